"""Who holds a bounded channel's slots mid-operation, so that slots a killed process held come back.

A bounded channel's free slots are credits in a pipe (see ``_handles``). A credit is out of the
pipe while a sender holds it (read, not yet sent), while it is a message in the socket, and while
a receiver holds it (message taken, credit not yet written back). A process SIGKILLed while it
holds one takes that slot with it: nothing else would ever write it back.

The ledger is a small table shared by every process holding a handle of the channel: a memfd,
travelling with the channel's other fds (bounded channels only), mapped by each. Each process's
endpoint owns one **row**, two counters only it writes: ``takes`` and ``gives``. Before a call
moves a credit out of the pipe or the socket (a sender's ``read``, a receiver's ``recvmsg``) it
adds one to ``takes``; once the credit is back (sent, written back) or was never taken, it adds
one to ``gives``. So a live process's ``takes - gives`` is never less than the credits it holds:
the row errs toward holding more, never less, whatever instant the process is stopped at.

A row is owned through an OFD lock (``F_OFD_SETLK``) on its byte, taken through the process's
own open file description of the memfd (reopened from ``/proc/self/fd``: the shared one is one
description for all, and OFD locks belong to descriptions). The kernel drops the lock when the
process dies, so a row whose lock nobody holds (``F_OFD_GETLK``) is not a live process's.

**Giving slots back** (:meth:`Ledger.recover`) needs no knowledge of the dead: with the socket
empty, every credit is in the pipe, held by a live process (and then counted in its row), or
lost. So ``capacity - free - sum(live rows)`` slots, if more than 0, are lost for good, and are
written back. That count is trusted only if nothing moved under it: the socket is empty at the
start, the rows are the same bytes at the end as at the start (the counters only grow: any call
that took or gave meanwhile changed them), and no other process counts at the same time (an
OFD lock on a byte of its own). A message sent during the count was sent by a call whose row
still counts it (its ``gives`` comes after the send), and a credit taken from the pipe during
the count by a call that had already counted it in ``takes``; so nothing is ever counted as
lost that is not, and a live process's credit is never given back twice. Every error errs
toward giving back fewer.

Limits, each erring toward fewer slots back: a channel that never empties stays short until it
empties; rows are ``ROWS`` per channel, and a process that finds none free is untracked: it holds
a shared lock that stops every count while it lives (and changes the table as it starts, for a
count already running); one that cannot lock at all (no ``/proc`` to reopen the memfd from, no
OFD locks) sets a flag that stops them for the channel's life.

A forked child gets the parent's mapping but not its rows: it closes its copy of the parent's
description (which would otherwise keep the parent's locks alive after the parent died) and
claims rows of its own as it needs them.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import struct
import sys
import termios
import threading
import weakref
from array import array
from typing import TYPE_CHECKING, Final, Protocol

from ._endpoint import close_fds
from ._gil import NO_GIL as _NO_GIL
from ._waiting import pipe_bytes

if TYPE_CHECKING:
    from ._endpoint import Endpoint

ROWS: Final = 1024
"""How many processes (endpoints) at once a channel's ledger tracks."""
_GIVES: Final = ROWS  # index of row 0's gives in the table (its takes: 0)
_UNTRACKED: Final = 2 * ROWS  # nonzero for good once a process could take no lock at all
_NONCE: Final = 2 * ROWS + 1  # rewritten by each process that finds no row free, as it does
SIZE: Final = (2 * ROWS + 2) * 8
_ROW_BYTES: Final = ROWS * 8
_TABLE: Final = SIZE  # what a count compares before and after: the rows and the two words
# Lock bytes: a row's own (0..ROWS-1), the untracked processes' shared one, the counters'.
_OVERFLOW: Final = ROWS
_COUNTING: Final = ROWS + 1

_UNCLAIMED: Final = -1
_NO_ROW: Final = -2  # untracked: no row free, or no /proc

# Without a GIL, the row's counters are updated under the ledger's lock (see Ledger.hold).

_FLOCK: Final = struct.Struct("hhqqi4x")  # struct flock (l_pid unused by OFD locks)
_SIOCINQ: Final = termios.FIONREAD
_SIOCOUTQ: Final = termios.TIOCOUTQ


class Holding(Protocol):
    """A call's record of whether it counted a credit in its row (see :meth:`Ledger.hold`)."""

    held: bool


def create() -> int:
    """A new ledger's memfd (rows all zero)."""
    fd = os.memfd_create("mpsc-ledger", os.MFD_CLOEXEC)
    try:
        os.ftruncate(fd, SIZE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _lock(fd: int, byte: int, kind: int) -> bool:
    """Take lock ``kind`` on ``byte`` through ``fd``'s open file description; whether it was free."""
    try:
        fcntl.fcntl(fd, fcntl.F_OFD_SETLK, _FLOCK.pack(kind, os.SEEK_SET, byte, 1, 0))
    except (BlockingIOError, PermissionError):  # (EAGAIN; EACCES on some kernels)
        return False
    return True


def _unlock(fd: int, byte: int) -> None:
    fcntl.fcntl(fd, fcntl.F_OFD_SETLK, _FLOCK.pack(fcntl.F_UNLCK, os.SEEK_SET, byte, 1, 0))


def _locked(fd: int, byte: int) -> bool:
    """Whether another open file description (a live process) holds a lock on ``byte``."""
    answer = fcntl.fcntl(fd, fcntl.F_OFD_GETLK, _FLOCK.pack(fcntl.F_WRLCK, os.SEEK_SET, byte, 1, 0))
    kind: int = _FLOCK.unpack(answer)[0]
    return kind != fcntl.F_UNLCK


def _queued(fd: int, request: int) -> int:
    buf = bytearray(4)
    fcntl.ioctl(fd, request, buf)
    return int.from_bytes(buf, sys.byteorder, signed=True)


class Ledger:
    """One endpoint's view of its channel's ledger: the shared memfd (``fd``, which the endpoint
    closes with its other fds), its own description of it (``mine``), its row."""

    __slots__ = ("__weakref__", "base", "counting", "fd", "lock", "map", "mine", "row", "view")

    def __init__(self, fd: int) -> None:
        self.map = mmap.mmap(fd, SIZE, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        self.base = memoryview(self.map)
        self.view = self.base.cast("Q")
        self.fd = fd
        self.mine: list[int] = []  # (a list: closed by close_fds, restartably)
        self.row = _UNCLAIMED
        self.lock = threading.Lock()
        # One count at a time per endpoint: threads share its description, so the lock on
        # _COUNTING (which keeps other processes' counts out) does not keep them apart.
        self.counting = threading.Lock()
        _ledgers.add(self)

    if _NO_GIL:

        def hold(self, call: Holding) -> None:
            """Count one credit in this process's row before ``call`` may take it (once per
            call until :meth:`release`). An interrupt landing before the count leaves nothing
            counted; none lands between the count and the store of ``call.held``."""
            with self.lock:
                if call.held:
                    return
                row = self.row
                if row == _UNCLAIMED:
                    row = self._claim()
                if row >= 0:
                    self.view[row] += 1
                call.held = True

        def release(self, call: Holding) -> None:
            """Uncount ``call``'s credit: it gave it back, sent it, or never took one.
            Idempotent."""
            with self.lock:
                if call.held:
                    call.held = False
                    row = self.row
                    if row >= 0:
                        self.view[_GIVES + row] += 1

    else:
        # Under the GIL, another thread runs (and an interrupt lands) only at a check point, and
        # from reading the row to storing ``call.held`` there is none: no lock is needed, which
        # halves what the ledger costs a send and a receive.

        def hold(self, call: Holding) -> None:
            """Count one credit in this process's row before ``call`` may take it (once per
            call until :meth:`release`). An interrupt landing before the count leaves nothing
            counted; none lands between the count and the store of ``call.held``."""
            if call.held:
                return
            row = self.row
            if row == _UNCLAIMED:
                with self.lock:
                    row = self._claim() if self.row == _UNCLAIMED else self.row
            if row >= 0:
                self.view[row] += 1
            call.held = True

        def release(self, call: Holding) -> None:
            """Uncount ``call``'s credit: it gave it back, sent it, or never took one.
            Idempotent."""
            if call.held:
                call.held = False
                row = self.row
                if row >= 0:
                    self.view[_GIVES + row] += 1

    def _claim(self) -> int:
        """Own a free row (or, with none, become untracked). Under ``lock``."""
        mine = self._mine()
        row = _NO_ROW
        if mine >= 0:
            try:
                row = self._free_row(mine)
                if row == _NO_ROW and _lock(mine, _OVERFLOW, fcntl.F_RDLCK):
                    # Every row is a live process's: this one holds credits no row counts, so
                    # no count may run while it lives (the shared lock says so), nor one that
                    # started before it said so (the nonce changes the table under it).
                    self.view[_NONCE] = int.from_bytes(os.urandom(8), "little")
                    self.row = _NO_ROW
                    return _NO_ROW
            except OSError:  # (no OFD locks here: a kernel before 3.15)
                row = _NO_ROW
        if row == _NO_ROW:  # no lock could be taken: no count may run, for the channel's life
            self.view[_UNTRACKED] = 1
        self.row = row
        return row

    def _free_row(self, mine: int) -> int:
        view = self.view
        for row in range(ROWS):
            if _lock(mine, row, fcntl.F_WRLCK):
                # A dead owner's count means nothing now (recover counts only live rows):
                # start level. (A count changed here aborts a count in progress: safe.)
                view[_GIVES + row] = view[row]
                return row
        return _NO_ROW

    def _mine(self) -> int:
        """This process's own open file description of the memfd (-1 if it cannot have one)."""
        mine = self.mine
        if mine:
            return mine[0]
        try:
            # (into the list in the same step of C code: an interrupt cannot leak it)
            mine += map(os.open, (f"/proc/self/fd/{self.fd}",), (os.O_RDWR | os.O_CLOEXEC,))
        except OSError:
            return -1
        return mine[0]

    def recover(self, endpoint: Endpoint) -> int:
        """Give back the slots that processes which died mid-operation held, if that is sure
        now (see the module doc); how many were given back. Called by a call that holds no
        credit (its own row's count is other threads')."""
        capacity = endpoint.capacity
        assert capacity
        sock = endpoint.sock.fileno()
        queue = _SIOCOUTQ if endpoint.side == "Sender" else _SIOCINQ
        credits = endpoint.credit_w
        if _queued(sock, queue) or pipe_bytes(credits) >= capacity or self.view[_UNTRACKED]:
            return 0  # (the common case: nothing can be counted now, or nothing is missing)
        if not self.counting.acquire(False):
            return 0  # another thread counts
        try:
            return self._count(capacity, sock, queue, credits)
        except OSError:  # (a lock refused for a reason of its own: nothing given back)
            return 0
        finally:
            self.counting.release()

    def _count(self, capacity: int, sock: int, queue: int, credits: int) -> int:
        with self.lock:
            mine = self._mine()
        # Untracked here (no row: a credit this process holds is in no row), or no description.
        if mine < 0 or self.row == _NO_ROW:
            return 0
        try:
            if not _lock(mine, _COUNTING, fcntl.F_WRLCK):
                return 0
            before = self.map[:_TABLE]
            if self.view[_UNTRACKED] or _locked(mine, _OVERFLOW):
                return 0  # (a process without a row said so before the table was read)
            held = self._live_held(mine, before)
            # Empty after the rows were judged live or dead: a message in it from now on was
            # sent by a call whose row counts it until the end of the count.
            if _queued(sock, queue):
                return 0
            free = pipe_bytes(credits)
            if self.map[:_TABLE] != before:
                return 0
            lost = capacity - free - held
            if lost <= 0:
                return 0
            os.write(credits, b"\x01" * lost)  # (the pipe holds every credit: never short)
            return lost
        finally:
            _unlock(mine, _COUNTING)

    def _live_held(self, mine: int, table: bytes) -> int:
        """The credits live processes may hold, by the rows in ``table``."""
        takes = array("Q", table[:_ROW_BYTES])
        gives = array("Q", table[_ROW_BYTES : 2 * _ROW_BYTES])
        if takes == gives:
            return 0
        held = 0
        own = self.row
        for row in range(ROWS):
            count = takes[row] - gives[row]
            if count and (row == own or _locked(mine, row)):
                held += count
        return held

    def close(self) -> None:
        """Unmap, and close this process's description (its row's lock goes with it).
        Restartable."""
        self.view.release()
        self.base.release()
        self.map.close()
        close_fds(self.mine)
        self.row = _UNCLAIMED

    def forget_parent(self) -> None:
        """In a forked child: the rows and the description were the parent's."""
        self.lock = threading.Lock()
        self.counting = threading.Lock()
        self.row = _UNCLAIMED
        close_fds(self.mine)


_ledgers: weakref.WeakSet[Ledger] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for ledger in list(_ledgers):
        ledger.forget_parent()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
