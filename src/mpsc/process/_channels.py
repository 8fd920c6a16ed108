"""The constructors: each makes one process channel and returns its first Sender and Receiver.

A channel is an AF_UNIX SOCK_SEQPACKET socket pair (the data path; see ``_wire``) and, when
bounded, a pipe of credits (see ``_handles``) and a ledger of who holds them (``_ledger``). The
send end's buffer is raised to the most an unprivileged process may ask for
(``net.core.wmem_max``; about 11 000 small messages at 4 MiB), since on every channel a send
also waits while that buffer is full.
"""

from __future__ import annotations

import fcntl
import os
import socket
import sys
from typing import Final, TypeVar

from .._channels import checked_capacity
from . import _ledger
from ._endpoint import RECEIVER, SENDER, Endpoint
from ._handles import Receiver, Sender
from ._rings import RING, RING_SIZE
from ._travel import joined

T = TypeVar("T")

_SNDBUF: Final = 64 * 1024 * 1024  # the kernel caps it at net.core.wmem_max
_PAGE: Final = os.sysconf("SC_PAGE_SIZE")
_PIPE_MAX_PATH: Final = "/proc/sys/fs/pipe-max-size"


def _pipe_limit() -> int:
    try:
        with open(_PIPE_MAX_PATH) as f:
            return int(f.read())
    except (OSError, ValueError):
        return 1024 * 1024


MAX_CAPACITY: Final = _pipe_limit() - _PAGE
"""The largest bound a process channel takes: its credit pipe must hold every credit at once,
and a pipe holds at most ``fs.pipe-max-size`` bytes (less the page it may have half read)."""


def _credit_pipe(capacity: int) -> tuple[int, int]:
    """A pipe holding ``capacity`` credits, sized so that giving every one back never blocks."""
    read_end, write_end = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        # Page-granular pipes: a partly read head page still takes a slot, so one page extra.
        want = max(2 * _PAGE, capacity + _PAGE)
        try:
            size = fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, want)
        except OSError as exc:  # EPERM beyond the limit, or past the user's pipe allowance
            raise ValueError(
                f"capacity {capacity} is too large for an mpsc.process channel here: its credit "
                f"pipe could not be given {want} bytes ({exc.strerror})"
            ) from None
        if size < want:
            raise ValueError(f"capacity {capacity} is too large: the credit pipe holds {size} bytes")
        credits = memoryview(b"\x01" * capacity)
        while True:  # (not ``while credits``: see ``mpsc._ops.recorded``)
            if not credits:
                break
            credits = credits[os.write(write_end, credits) :]
    except BaseException:
        os.close(read_end)
        os.close(write_end)
        raise
    return read_end, write_end


_LINUX: Final = sys.platform.startswith("linux")


def _make(capacity: int | None) -> tuple[Sender[T], Receiver[T]]:
    if not _LINUX:
        raise NotImplementedError(
            f"mpsc.process runs on Linux only: it needs AF_UNIX SOCK_SEQPACKET sockets, "
            f"memfd_create and pipe2, which {sys.platform} lacks (macOS has no SOCK_SEQPACKET). "
            f"The thread channels (mpsc.channel and the rest) work everywhere."
        )
    chan_id = os.urandom(8)
    tx_sock, rx_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    fds: list[int] = []
    try:
        tx_sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _SNDBUF)
        if capacity:
            credit_r, credit_w = _credit_pipe(capacity)
            fds += (credit_r, credit_w)
            # Receivers hold a read end too, which they never read: the pipe always has a
            # reader while one of them lives, so giving a credit back after the last Sender
            # went can never raise SIGPIPE (fatal where a program set it to SIG_DFL).
            rx_credit_r, rx_credit_w = os.dup(credit_r), os.dup(credit_w)
            fds += (rx_credit_r, rx_credit_w)
            # Who holds credits mid-operation, so that those a killed process held come back.
            fds.append(_ledger.create())
            fds.append(os.dup(fds[-1]))
            tx_ledger, rx_ledger = _ledger.Ledger(fds[-2]), _ledger.Ledger(fds[-1])
            tx_ep = Endpoint(
                SENDER, capacity, chan_id, tx_sock, credit_r=credit_r, credit_w=credit_w, ledger=tx_ledger
            )
            rx_ep = Endpoint(
                RECEIVER,
                capacity,
                chan_id,
                rx_sock,
                credit_r=rx_credit_r,
                credit_w=rx_credit_w,
                ledger=rx_ledger,
            )
        elif capacity == 0:  # the hint pipe of waiting receivers (see _rendezvous)
            hint_r, hint_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
            fds += (hint_r, hint_w)
            rx_hint_r, rx_hint_w = os.dup(hint_r), os.dup(hint_w)
            fds += (rx_hint_r, rx_hint_w)
            tx_ep = Endpoint(SENDER, capacity, chan_id, tx_sock, credit_r=hint_r, credit_w=hint_w)
            rx_ep = Endpoint(RECEIVER, capacity, chan_id, rx_sock, credit_r=rx_hint_r, credit_w=rx_hint_w)
        elif RING is not None:  # the shared-memory ring (see _rings)
            fds.append(RING.create(RING_SIZE))
            fds.append(os.dup(fds[-1]))
            tx_ring, rx_ring = RING.Ring(fds[-2]), RING.Ring(fds[-1])
            tx_ep = Endpoint(SENDER, capacity, chan_id, tx_sock, ring=tx_ring, ring_fd=fds[-2])
            rx_ep = Endpoint(RECEIVER, capacity, chan_id, rx_sock, ring=rx_ring, ring_fd=fds[-1])
        else:
            tx_ep = Endpoint(SENDER, capacity, chan_id, tx_sock)
            rx_ep = Endpoint(RECEIVER, capacity, chan_id, rx_sock)
    except BaseException:
        tx_sock.close()
        rx_sock.close()
        for fd in fds:
            os.close(fd)
        raise
    joined(tx_ep)
    joined(rx_ep)
    return tx_ep.new_handle(Sender), rx_ep.new_handle(Receiver)


def channel() -> tuple[Sender[T], Receiver[T]]:
    """An unbounded process channel. Returns ``(Sender, Receiver)``.

    No bound is set: a send waits only while the kernel's socket buffer is full (thousands of
    small messages; large values travel in a memfd and take little of it), which keeps a value
    that ``send`` returned for in the kernel, where the sender's death cannot lose it.

    Returns:
        The channel's first ``(Sender, Receiver)`` pair.

    Raises:
        OSError: The kernel refused the socket pair (out of file descriptors, say).
        NotImplementedError: Not on Linux (see the module's platform note).

    Examples:
        >>> tx, rx = channel()
        >>> tx.send("hi")
        >>> rx.recv()
        'hi'
    """
    return _make(None)


def unbounded() -> tuple[Sender[T], Receiver[T]]:
    """The same as [`channel`][mpsc.process.channel] (crossbeam's name).

    Returns:
        The channel's first ``(Sender, Receiver)`` pair.

    Raises:
        OSError: The kernel refused the socket pair (out of file descriptors, say).
        NotImplementedError: Not on Linux (see the module's platform note).
    """
    return _make(None)


def sync_channel(bound: int) -> tuple[Sender[T], Receiver[T]]:
    """A process channel holding at most ``bound`` messages; ``send`` waits while it is full.

    ``bound == 0`` makes a rendezvous channel: ``send`` returns only once a receiver has the
    value. ``bound`` is at most [`MAX_CAPACITY`][mpsc.process.MAX_CAPACITY] (the credit pipe's
    limit).

    Args:
        bound: The most messages the channel holds, ``0 <= bound <= MAX_CAPACITY``.

    Returns:
        The channel's first ``(Sender, Receiver)`` pair.

    Raises:
        TypeError: ``bound`` is not an int (or is a bool).
        ValueError: ``bound`` is negative, above ``MAX_CAPACITY``, or more than this system
            lets a pipe hold.
        OSError: The kernel refused the socket pair or a pipe (out of file descriptors, say).
        NotImplementedError: Not on Linux (see the module's platform note).

    Examples:
        >>> tx, rx = sync_channel(1)
        >>> tx.send(1)
        >>> tx.is_full()
        True
    """
    bound = checked_capacity(bound)
    if bound > MAX_CAPACITY:
        raise ValueError(f"capacity must be at most {MAX_CAPACITY} for an mpsc.process channel, got {bound}")
    return _make(bound)


def bounded(capacity: int) -> tuple[Sender[T], Receiver[T]]:
    """The same as [`sync_channel`][mpsc.process.sync_channel] (crossbeam's name).

    Args:
        capacity: The most messages the channel holds, ``0 <= capacity <= MAX_CAPACITY``.

    Returns:
        The channel's first ``(Sender, Receiver)`` pair.

    Raises:
        TypeError: ``capacity`` is not an int (or is a bool).
        ValueError: ``capacity`` is negative, above ``MAX_CAPACITY``, or more than this system
            lets a pipe hold.
        OSError: The kernel refused the socket pair or a pipe (out of file descriptors, say).
        NotImplementedError: Not on Linux (see the module's platform note).
    """
    return sync_channel(capacity)
