"""mpsc.process: the same channels between processes on one Linux machine.

Examples:
    >>> import mpsc.process
    >>> tx, rx = mpsc.process.channel()
    >>> tx.send("hi")
    >>> rx.recv()
    'hi'

The handles have the thread channels' methods and errors (``mpsc.SendError``, ``mpsc.Full``,
...), and the same ownership rules: ``close()``, ``with``, ``clone()``, release by the garbage
collector. What differs, and why:

* **Disconnection is counted by the kernel.** A side is a set of file descriptors; a process
  that exits or is killed releases its handles with them. Receivers drain what was sent and then
  get ``RecvError`` once every Sender anywhere is gone; senders get ``SendError`` once every
  Receiver is (what was queued is dropped then, as Rust drops it).
* **Values are pickled at ``send``** (protocol 5): one that cannot be pickled raises there and
  nothing is sent. A message is one datagram of an AF_UNIX SOCK_SEQPACKET socket, atomic among
  any number of writers; on an unbounded channel a small one is instead a record in a ring of
  shared memory (a memfd), under a robust process-shared lock that a process killed holding it
  leaves to the next one, nothing it half-wrote visible: either way a process killed at any
  instant leaves no lock held and no torn message. Values larger than 64 KiB travel in a memfd.
* **Bounds**: ``sync_channel(n)`` holds at most ``n`` messages (credits in a pipe, at most
  [`MAX_CAPACITY`][mpsc.process.MAX_CAPACITY]), and never more, though processes using it
  are killed at any instant: a slot one held comes back, never twice (a ledger shared by the
  processes says who holds which: see the known limits); ``n == 0`` is a rendezvous whose ``send``
  returns only once a receiver has claimed the value. ``channel()`` has no bound, but a send
  waits while its ring is full (about 5000 small messages) or, for large values and handles,
  the kernel's socket buffer: a value ``send`` returned for is in the ring or in the kernel,
  where neither a feeder thread nor the sender's death can lose it.
* **``len()``, ``is_empty()``, ``is_full()``** are answered on bounded channels (capacity minus
  free credits: queued messages plus those being moved right now); an unbounded channel raises
  ``TypeError``, its kernel buffer counting bytes, not messages.
* **Handles travel** as arguments of a ``multiprocessing.Process`` being started (spawn or
  forkserver; handed over as the child is created) and inside messages of process channels
  (SCM_RIGHTS: a Sender in flight keeps its channel connected, and is released with a message
  nobody reads). Pickling one anywhere else raises ``TypeError``: give ``ProcessPoolExecutor``
  workers their handles through ``initializer``/``initargs``.
* **fork**: a forked child inherits a live copy of every handle its parent held, and keeps those
  channels connected until it closes them or exits;
  [`release_inherited`][mpsc.process.release_inherited] closes all but the ones it names.
  Handles that the parent's other threads had in flight inside messages are closed in the
  child as it starts, except one received in the few steps between its fds' arrival and
  their being noted: that one the child holds until it exits.
  spawn and forkserver children hold only what they were given.

Interrupts: whatever exception lands in a call (Ctrl-C, a signal handler's), the call either
did not happen (it propagates, the channel is as it was) or happened and returns its result,
the exception raised right after, as on thread channels.

asyncio: ``await tx.send_async(v)``, ``await rx.recv_async()``, ``async for``, ``async with``,
with no thread per wait: a task makes the same non-blocking attempts as the blocking calls and
awaits the channel's fds on its loop (``loop.add_reader``) between them. Cancelling one is safe
as on thread channels: it either completed (it returns; the cancellation lands at the next
await) or raises ``CancelledError`` having taken or sent nothing. A blocking call that would
have to wait raises ``RuntimeError`` inside a running event loop.

``mpsc.select``, ``mpsc.Select`` and ``select_async`` take these handles beside thread channels
and timers (``_select``: the operation is tried in the selecting thread, which watches its fds).

Known limits of this first tier: ``select_async`` over these handles runs on asyncio only (under
trio it raises ``RuntimeError``; the async methods themselves run under trio too, each wait
polling in a worker thread, where asyncio needs none); a process *killed* between taking a slot
of a bounded channel and giving it back (a receiver killed while it drains a busy channel lands
there about one kill in ten) leaves the channel that slot short only until the channel is empty
and somebody looks: a send that finds no slot free, a receive that waited 0.1 s for nothing, or
``len()``/``is_empty()``/``is_full()`` gives back what the dead held (``_ledger``); so a channel
that is never empty stays short until it is, and while more than 1024 processes use one bounded
channel at once (or a process cannot reopen its memfd from ``/proc``), nothing is given back
until they are gone (for good, in the latter case); a value whose own Python code runs as it
unpickles (its classes' ``__setstate__``/``__reduce__`` functions) is unpickled again when an
interrupt lands in that code, and after three such interrupts in one receive the message counts
as unreadable (the interrupt is raised; a value that fails to unpickle by itself raises its own
error at once and its code runs once, so an interrupt that is an ``Exception`` — raised by a
signal handler, say — landing in the value's own code is taken for the value's error: the
message is consumed and that exception raised; in mpsc's own part of unpickling, a carried
handle's adoption, any exception counts as an interrupt); ``try_send`` on a rendezvous channel
is guided by hints of waiting receivers and may say ``Full`` in a race with one arriving or
leaving; a call (or task) blocked on a handle that another thread (or task) closes notices
within 0.1 s; Linux only (SOCK_SEQPACKET, memfd): elsewhere the module imports and making a
channel raises ``NotImplementedError`` saying so. The ring of an unbounded channel is the
extension ``mpsc.process._ring``: a channel made where it is not (``MPSC_PURE`` set, no C
compiler at install) has none, and a handle of a channel that has one, arriving in a process
without it, is refused as it arrives (``RuntimeError`` saying so). A sender killed at the one
instant between publishing a small message and waking a receiver that waits leaves that receiver
asleep until the next message or for at most 0.1 s.

File descriptors: an unbounded channel's side holds two (the socket, the ring's memfd), a
bounded channel's four (the socket, the credit pipe's two ends,
the ledger's memfd) and a fifth once it is used (its own description of the ledger). A large
value (a memfd) and a handle inside a value travel as fds, and the kernel lets an ordinary user
have at most ``ulimit -n`` of them in flight (root is exempt); a send past that waits as on a
full channel (trying again every 10 ms: nothing signals room) and ends in ``Full``/``Timeout``
as usual. A receive in a process with no fd free cannot take the fds such a message carries: the
kernel drops them, the message is lost, and the receive raises ``OSError(EMFILE)`` saying so.

Modules, one idea each: ``_channels`` (constructors), ``_handles`` (Sender, Receiver),
``_wire`` (the datagram format), ``_rendezvous`` (capacity 0), ``_travel`` (how handles pickle),
``_endpoint`` (one process's fds of one side, shared by clones; the fork rules), ``_ledger``
(who holds a bounded channel's slots, so that those of killed processes come back), ``_rings``
(the shared-memory ring of unbounded channels, ``_ring.c``), ``_waiting``
(the one place a call sleeps), ``_async`` (the one place a task awaits).
"""

from . import _implementation  # noqa: F401  (installs the compiled or the pure send and receive)
from ._channels import MAX_CAPACITY, bounded, channel, sync_channel, unbounded
from ._endpoint import release_inherited
from ._handles import Receiver, Sender, SyncSender

__all__ = [
    "MAX_CAPACITY",
    "Receiver",
    "Sender",
    "SyncSender",
    "bounded",
    "channel",
    "release_inherited",
    "sync_channel",
    "unbounded",
]
