"""How a handle travels to another process: inside a message, or as an argument of a new process.

A handle is its side's file descriptors, so travelling means getting copies of those fds into the
other process, in a way the kernel keeps counting:

* **Inside a message of a process channel** (``tx2.send(tx)``): the fds are dup'ed while the
  message is pickled and go with its datagram as SCM_RIGHTS. In flight they are owned by the
  kernel: the channel stays connected while the message waits (a Sender in flight keeps its
  channel alive, as in Rust), and if the carrying channel's last receiver goes without reading
  it, the kernel closes them. The sending process keeps its own handle: sending is a clone that
  travels; close yours if you meant to move it.
* **As an argument of a ``multiprocessing.Process`` being started** with spawn or forkserver:
  ``multiprocessing.reduction.DupFd`` hands the fds to the Popen, which passes them to the child
  as it is created. A child that never unpickles its arguments (it failed to start) still holds
  them only until it exits. With the fork start method nothing is pickled: the child inherits
  the handle objects and their fds (see ``_endpoint``).
* **Anywhere else** (``pickle.dumps``, ``ProcessPoolExecutor.submit`` arguments, a
  ``multiprocessing.Queue``): refused with ``TypeError``. Those pickles may never be unpickled,
  and an fd kept ready for them (``multiprocessing.resource_sharer`` does that) would hold the
  channel open for as long as the pickling process lives. Pool workers get handles through
  ``initializer``/``initargs`` (pickled as the worker starts) or inside a message of a process
  channel they already hold.

Clones within one process share one endpoint: a handle arriving in a process that already holds
the same side of the same channel joins that endpoint, and the fds it brought are closed.
"""

from __future__ import annotations

import _socket
import os
import socket
import threading
import weakref
from multiprocessing import context, reduction
from typing import Any

from .._errors import ClosedHandleError
from .._interrupts import complete
from ._endpoint import RECEIVER, SENDER, Endpoint, _sockets, close_fds, noting
from ._ledger import Ledger
from ._rings import MISSING, RING


class _Local(threading.local):
    """``outgoing``: the fds collected for the message being pickled by this thread (None
    outside); ``incoming``: the fds of the message being unpickled (the message's: a handle
    adopted as a new endpoint holds duplicates); ``adopted``: the message's adoptions of its
    handles so far (:class:`Adoption`), by the index of their first fd.

    Class defaults, not ``getattr(local, name, None)``: a missing attribute costs an exception
    inside getattr, a third of a small send's pickling time."""

    outgoing: list[int] | None = None
    incoming: list[int] | None = None
    adopted: dict[int, Adoption] | None = None


local = _Local()

_joined: weakref.WeakValueDictionary[tuple[bytes, str], Endpoint] = weakref.WeakValueDictionary()
_joined_lock = threading.Lock()
_adopting = threading.RLock()
"""Held from looking for this process's endpoint of a side to registering a new one (reentrant:
a finalizer run by a collection inside an adoption may receive a handle too)."""
if hasattr(os, "register_at_fork"):  # (a parent thread may hold it at the fork: never released)
    os.register_at_fork(after_in_child=_joined_lock._at_fork_reinit)  # type: ignore[attr-defined]
    os.register_at_fork(after_in_child=_adopting._at_fork_reinit)  # type: ignore[attr-defined]

_passed: weakref.WeakKeyDictionary[Any, dict[int, Any]] = weakref.WeakKeyDictionary()
"""The fds already handed to each Popen being launched."""

_NOWHERE = (
    "an mpsc.process {name} can be pickled only inside a message of an mpsc.process channel or "
    "as an argument of a multiprocessing.Process being started (spawn or forkserver; with fork "
    "it is inherited); give ProcessPoolExecutor workers handles through initializer/initargs "
    "or send them inside a message. Pickled anywhere else, its file descriptors would have to "
    "be kept open for a pickle that may never be unpickled."
)


def reduce_handle(handle: Any) -> tuple[Any, tuple[Any, ...]]:
    """``__reduce__`` of a Sender or Receiver (see the module docstring for where it may go)."""
    endpoint: Endpoint | None = handle._ep
    if endpoint is None:
        raise ClosedHandleError(f"cannot pickle a closed mpsc.process {type(handle).__name__}")
    outgoing = local.outgoing
    meta = (type(handle), endpoint.side, endpoint.capacity, endpoint.chan_id)
    if outgoing is not None:
        start = len(outgoing)
        noting(outgoing)  # (before any fd is made: see _endpoint._noted)
        endpoint.using(_duplicate_into, outgoing, endpoint)
        return _from_message, (*meta, start, len(outgoing) - start)
    popen = context.get_spawning_popen()
    if popen is not None:
        if endpoint.closed:
            raise ClosedHandleError(f"cannot pickle a closed mpsc.process {type(handle).__name__}")
        # Each fd is passed to a child once (spawn refuses a repeated one); handles of the same
        # side given twice then arrive with the same fds, and the second joins the first.
        passed = _passed.get(popen)
        if passed is None:
            passed = _passed[popen] = {}
        dupfds = []
        for fd in endpoint.fds():
            dupfd = passed.get(fd)
            if dupfd is None:
                dupfd = passed[fd] = reduction.DupFd(fd)
            dupfds.append(dupfd)
        return _from_spawn, (*meta, dupfds)
    raise TypeError(_NOWHERE.format(name=type(handle).__name__))


def _duplicate_into(outgoing: list[int], endpoint: Endpoint) -> None:
    """Duplicates of ``endpoint``'s fds, each into the message's list as it is made (``list +=
    map`` runs no check point between a dup and its append): the message closes them all."""
    outgoing += map(os.dup, endpoint.fds())


def _from_message(cls: Any, side: str, capacity: int | None, chan_id: bytes, start: int, count: int) -> Any:
    adopted, incoming = local.adopted, local.incoming
    if adopted is None or incoming is None or start + count > len(incoming):
        raise RuntimeError("mpsc.process: a handle's file descriptors are missing from its message")
    # Recorded in the message before anything is made: a message unpickled again after an
    # interrupt (see _wire.settle) gets the handle the cut short attempt made, or closes what it
    # left half-made and makes it again; the receive's end closes what is left (Taking.close).
    adoption = adopted.get(start)
    if adoption is None:
        adoption = Adoption()
        adopted[start] = adoption
    elif adoption.handle is not None:
        if adoption.endpoint is not None:  # (an interrupt may have cut its registration short)
            adoption.register(cls)
        return adoption.handle
    else:
        adoption.close()
    with _adopting:  # (two threads must not both find none and make one each)
        for adoption.handle in map(joining, (cls,), (side,), (chan_id,)):
            break
        if adoption.handle is None:
            # A new endpoint of duplicates: the message keeps its own fds (and closes them with
            # it), so that it stays whole for the next unpickling, and no fd has two owners.
            adoption.make(cls, side, capacity, chan_id, incoming[start : start + count], True)
            adoption.register(cls)
    # (else the message's fds are closed with it: this process holds that side already)
    return adoption.handle


def _from_spawn(cls: Any, side: str, capacity: int | None, chan_id: bytes, dupfds: list[Any]) -> Any:
    fds = [dupfd.detach() for dupfd in dupfds]
    for fd in fds:  # passed to the child inheritable: not to its own children
        os.set_inheritable(fd, False)
    return adopt(cls, side, capacity, chan_id, fds)


def joining(cls: Any, side: str, chan_id: bytes) -> Any:
    """A new handle of class ``cls`` on this process's endpoint of that side of that channel,
    or None if it has none open."""
    with _joined_lock:
        endpoint = _joined.get((chan_id, side))
    return None if endpoint is None else _new_handle_or_none(endpoint, cls)


def adopt(cls: Any, side: str, capacity: int | None, chan_id: bytes, fds: list[int]) -> Any:
    """A new handle of class ``cls`` owning ``fds`` (or joining this process's endpoint of the
    same side, whose own fds may be the very same numbers: a handle given twice to a child)."""
    with _adopting:
        handle = joining(cls, side, chan_id)
        if handle is not None:
            _close_others(fds, handle._ep)
            return handle
        adoption = Adoption()
        try:
            adoption.make(cls, side, capacity, chan_id, fds, False)
            adoption.register(cls)
        except BaseException as exc:
            try:
                exc = complete(Adoption.close, adoption, exc)
            except BaseException as landed:  # as complete() started
                exc = complete(Adoption.close, adoption, landed)
            raise exc from None
        return adoption.handle


def _close_others(fds: list[int], endpoint: Endpoint) -> None:
    """Close those of ``fds`` that are not ``endpoint``'s own (a handle given twice to a child
    arrives with the same numbers). (A function of its own: no loop inside the caller's ``with``.)"""
    mine = set(endpoint.fds())
    close_fds([fd for fd in fds if fd not in mine])


class Adoption:
    """A carried handle's making into a handle of a new endpoint, step by step, so that what an
    exception leaves half-made can be closed (restartably) and made again.

    No fd ever has two owners: the fds are in one list (``mine``) from which the data socket's is
    popped into its socket object in one step of C code, and that list itself becomes the
    endpoint's list of fds to close. ``handle`` is stored last: from then on the endpoint is
    whole, and closed with its handles."""

    __slots__ = ("endpoint", "handle", "ledger", "mine", "replaced", "ring", "sock")

    def __init__(self) -> None:
        self.handle: Any = None
        self.endpoint: Endpoint | None = None
        self.sock: Any = None
        self.mine: list[int] = []
        # Each as it is made: a child forked before the endpoint took them closes them here.
        self.ledger: Ledger | None = None
        self.ring: Any = None
        self.replaced: Any = None  # the handle made here, once register moved to another endpoint

    def make(
        self, cls: Any, side: str, capacity: int | None, chan_id: bytes, fds: list[int], duplicate: bool
    ) -> None:
        """Make ``handle`` holding ``fds`` (their duplicates, with ``duplicate``; else ``fds``
        themselves, which :meth:`close` closes if it cannot finish)."""
        # The fds each side holds, after the data socket: see _handles (credits), _ledger (who
        # holds them) and _rendezvous (hints). A name of -1 is a pipe end this side does not hold.
        names: tuple[str, ...] = () if capacity is None else ("credit_r", "credit_w")
        mine = self.mine = []  # (a list of its own for each endpoint: see close)
        mine += map(os.dup, fds) if duplicate else fds  # (each fd in the list as it is made)
        ringed = capacity is None and len(mine) == 2  # an unbounded channel's ring (_rings)
        if len(mine) != 1 + len(names) + (1 if capacity or ringed else 0) or side not in (SENDER, RECEIVER):
            raise RuntimeError(f"mpsc.process: a {side} arrived with {len(fds)} file descriptors")
        if ringed and RING is None:
            raise RuntimeError(MISSING)
        for self.sock in map(_socket.socket, _UNIX, _SEQPACKET, _PROTO, map(list.pop, (mine,), (0,))):
            break
        pipes = dict(zip(names, mine[: len(names)], strict=True))
        if capacity:
            for self.ledger in map(Ledger, mine[-1:]):
                break
        if ringed and RING is not None:
            for self.ring in map(RING.Ring, mine[-1:]):
                break
        sock = self.sock
        ring_fd = mine[-1] if ringed else -1
        endpoint = self.endpoint = Endpoint(
            side,
            capacity,
            chan_id,
            sock,
            ledger=self.ledger,
            owned=mine,
            ring=self.ring,
            ring_fd=ring_fd,
            **pipes,
        )
        for self.handle in map(endpoint.new_handle, (cls,)):
            break

    def register(self, cls: Any) -> None:
        """Make the made endpoint its side's in this process, or move ``handle`` (not yet given
        to anyone) to the endpoint of that side registered meanwhile: by another thread whose
        adoption ran between this one's interrupt and its retry, or by a finalizer that received
        a handle of this side inside this adoption. Restartable: once moved, ``handle`` is on
        the registered endpoint, and registering it again changes nothing."""
        made = self.handle
        for moved in map(_registered, (made._ep,), (made,), (cls,)):
            break
        if moved is not made:
            # Kept until it is closed: a retry after an interrupt here finds it (review 16/04).
            self.replaced = made
            self.handle = moved
        if self.replaced is not None:
            self.replaced.close()  # (the last handle of the endpoint made here: it closes its fds)
            self.replaced = None

    def close(self) -> None:
        """Close what was made, unless it was made whole (restartable: each close is idempotent,
        and the half-made endpoint is closed first, so that no handle joins it)."""
        if self.handle is not None:
            return
        if self.endpoint is not None:
            self.endpoint.force_close("mpsc.process: this handle was never made whole")
        else:  # (else the endpoint closes them)
            if self.ledger is not None:
                self.ledger.close()
            if self.ring is not None:
                self.ring.close()
        if self.sock is not None:
            self.sock.close()
            _sockets.discard(self.sock)
        close_fds(self.mine)


def abandon(adopted: dict[int, Adoption]) -> None:
    """Close what the adoptions of a message that ends here left half-made (restartable)."""
    for adoption in adopted.values():
        adoption.close()


_UNIX, _SEQPACKET, _PROTO = (socket.AF_UNIX,), (socket.SOCK_SEQPACKET,), (0,)


def joined(endpoint: Endpoint) -> None:
    """Make ``endpoint`` the one handles of its side arriving in this process join."""
    with _joined_lock:
        _joined[endpoint.chan_id, endpoint.side] = endpoint


def _registered(endpoint: Endpoint, handle: Any, cls: Any) -> Any:
    """``handle`` (on ``endpoint``), with ``endpoint`` registered as its side's in this process,
    unless another open endpoint of that side is registered: then a new handle on that one. One
    step under the lock, so that no other registration comes between the look and either."""
    with _joined_lock:
        other = _joined.get((endpoint.chan_id, endpoint.side))
        if other is not None and other is not endpoint:
            for joining_handle in map(_new_handle_or_none, (other,), (cls,)):
                break
            if joining_handle is not None:
                return joining_handle
        _joined[endpoint.chan_id, endpoint.side] = endpoint
        return handle


def _new_handle_or_none(endpoint: Endpoint, cls: Any) -> Any:
    """A new handle on ``endpoint``, or None if it is closed."""
    try:
        return endpoint.new_handle(cls)
    except ClosedHandleError:
        return None
