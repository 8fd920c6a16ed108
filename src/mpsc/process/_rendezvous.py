"""Rendezvous (capacity 0): ``send`` returns only once a receiver has claimed the value.

A sender cannot take a datagram back out of the socket, so every rendezvous message is an
*offer* that one side must win. Each offer carries two fresh pipes' ends (SCM_RIGHTS):

* the **token**: the read end of a pipe holding one byte, whose write end is already closed.
  The sender keeps a copy of that read end. Whoever reads the byte wins: a receiver reading it
  has claimed the value; the sender reading it has withdrawn the offer. A pipe read is atomic,
  so exactly one of them gets it, whatever the timing and whoever dies.
* the **notice**: the write end of a pipe whose read end the sender watches. The receiver
  writes a byte to it when it claimed the token (a child forked meanwhile holds a copy of the
  notice that keeps it open), and closes it once it has read the offer (claimed or not); the
  kernel closes it if the receiver dies, or if the datagram is dropped because the last
  receiver went. Either way the sender sees it readable, then reads the token: gone means
  claimed (the send returns), still there
  means nobody took the value (the sender withdraws it and offers it again, which fails with
  ``SendError`` if no receiver is left).

``try_send`` needs to know whether a receiver is waiting now. A receiver blocked on a
rendezvous channel writes one byte to a *hint* pipe (both sides hold both its ends) and reads
one back when it stops waiting. ``try_send`` raises ``Full`` unless it can read a hint; with
one, it makes its offer (marked HINTED: a receiver that claims it and had left a hint counts
its own as the one taken; one that had not writes a hint back for the receiver still waiting)
and waits up to ``GRACE`` for the claim: microseconds when the receiver is still blocked, the
whole grace only when it was just leaving, after which the offer is withdrawn, the hint written
back, and ``Full`` raised. Hints are counts, not names, and only a guide (a receiver killed
while waiting leaves a stale one, on which the next ``try_send`` spends its grace).

A sender whose time runs out withdraws the offer by reading the token; if it finds the token
gone, a receiver claimed the value meanwhile and the send returns normally. A withdrawn offer
stays in the socket until a receiver reads and discards it. So ``send`` needs no credit from
a waiting receiver (only ``try_send`` looks at hints, and never trusts one without a claim), and
a receiver that times out cannot leave a sender's value stranded: the value belongs to
whichever side read the token.
"""

from __future__ import annotations

import os
from typing import Final, Protocol

from ._endpoint import close_fds
from ._waiting import READABLE, wait_ready

GRACE: Final = 0.05
"""How long ``try_send`` waits for the receiver whose hint it took to claim its offer."""

TOKEN: Final = b"t"  # (settle() in _wire reads the same byte)
_HINT: Final = b"w"
_PIPE_FLAGS: Final = os.O_NONBLOCK | os.O_CLOEXEC


class Offer:
    """The sender's side of one offer: the token's read end and the notice's ends.

    ``out`` becomes true once the offer's datagram is in the socket, ``outcome`` is what the
    sender read from the token when it tried to withdraw it (``TOKEN``: withdrawn; ``b""``: a
    receiver had claimed it); both are stored with no check point after their system call, so
    an interrupted send knows which it was.
    """

    __slots__ = ("keep", "notice_r", "notice_w", "out", "outcome", "token", "token_w")

    def __init__(self) -> None:
        # Nothing is opened here: a record lost as its constructor returns holds no fd. The
        # caller stores it, then calls open(), which records each fd as it is made.
        self.out = 0
        self.outcome: bytes | None = None
        self.keep: list[int] = []  # closed by close()
        self.notice_w: list[int] = []  # the notice's write end, until the offer is out
        self.token_w: list[int] = []  # the token's write end, until the token is in
        self.token = self.notice_r = -1

    def open(self) -> None:
        """Make the token (a pipe holding one byte, its write end closed) and the notice. Each
        pipe's ends are recorded with no check point after the ``pipe2`` that made them (a
        ``for`` step over a C call), so an exception landing anywhere leaves none unrecorded;
        ``close`` closes what was made."""
        for pair in map(os.pipe2, (_PIPE_FLAGS,)):
            break
        self.keep += pair[:1]
        self.token_w += pair[1:]
        self.token = pair[0]
        os.write(self.token_w[0], TOKEN)
        close_fds(self.token_w)
        for pair in map(os.pipe2, (_PIPE_FLAGS,)):
            break
        self.keep += pair[:1]
        self.notice_w += pair[1:]
        self.notice_r = pair[0]

    def fds(self) -> tuple[int, int]:
        """The fds that travel with the offer's datagram, in the order receivers expect."""
        return self.token, self.notice_w[0]

    def sent(self) -> None:
        """The offer is in the socket: only the copy of the notice in flight may stay open."""
        close_fds(self.notice_w)

    def answered(self, deadline: float | None) -> bool:
        """Wait (at most until ``deadline``, at most one wait slice) for the offer's reader to
        let go of the notice; whether it has."""
        return bool(wait_ready([(self.notice_r, READABLE)], deadline))

    def withdraw(self) -> bool:
        """Take the token back: True if it was still there (nobody has the value), False if a
        receiver claimed it first. Decided once; later calls say the same."""
        if self.outcome is None:
            try:
                for self.outcome in map(os.read, (self.token,), (1,)):  # noqa: B020
                    break
            except BlockingIOError:  # empty, but a forked child holds a copy of its write end
                self.outcome = b""
        return self.outcome == TOKEN

    def claimed(self) -> bool:
        """Whether the offer went out and a receiver claimed it (known once withdraw() ran)."""
        return bool(self.out) and self.outcome == b""

    def close(self) -> None:
        """Close this side's fds (restartable)."""
        close_fds(self.token_w)
        close_fds(self.notice_w)
        close_fds(self.keep)


def hint(fd: int) -> bool:
    """Say "a receiver is waiting" (for ``try_send``) on the hint pipe's write end ``fd``;
    whether it was said (a full pipe, 64 KiB of waiting receivers, is left as it is)."""
    try:
        os.write(fd, _HINT)
    except (BlockingIOError, BrokenPipeError):
        return False
    return True


class Hinting(Protocol):
    """A receive (or a select's round of waiting) that may have left a hint: ``hinted``."""

    hinted: bool


def take_hint_back(call: Hinting, fd: int) -> None:
    """Read one hint back from the hint pipe's read end ``fd`` if ``call`` left one (unless a
    ``try_send`` took it meanwhile: then the pipe may be empty). Restartable: the flag is cleared
    first, so at worst an interrupt leaves one stale hint (hints are only a guide), never takes
    two."""
    if call.hinted:
        call.hinted = False
        try:
            os.read(fd, 1)
        except BlockingIOError:
            pass
