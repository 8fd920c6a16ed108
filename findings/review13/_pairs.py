"""Shared by this review's scripts: interrupts at chosen CPython check points of a call made in
the main thread (a real pending signal whose handler raises at the n-th check point inside mpsc,
as tests/checkpoints.SignalInjector, extended to any number of targets), and the checks."""

import gc
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../tests"))
from checkpoints import Injected, InjectedError, SignalInjector, quietly  # noqa: E402,F401

import mpsc  # noqa: E402


class Multi(SignalInjector):
    """Raise at each of ``targets`` (check point numbers, 1-based)."""

    def __init__(self, targets, kind=Injected):
        super().__init__(targets[0], 0, kind)
        self.targets = list(targets)
        self.hits = 0

    def _handler(self, signum, frame):
        if not self.on:
            return
        if self._inside(frame):
            self.points += 1
            if self.points in self.targets:
                self.fired = True
                self.hits += 1
                self.where += f" {frame.f_code.co_qualname}:{frame.f_lineno}"
                self.raised.append(self.kind(len(self.raised) + 1))
                if self.hits < len(self.targets):
                    self._pend()
                else:
                    self.on = False
                raise self.raised[-1]
        self._pend()


def run(fn, targets, kind=Injected):
    """``fn()`` with interrupts at ``targets``; (how many fired, where, the exception seen)."""
    inj = Multi(targets, kind) if targets else None
    if inj is None:
        fn()
        return 0, "", None
    _, exc = quietly(inj, fn)
    return inj.hits, inj.where, exc


def nfds():
    return len(os.listdir("/proc/self/fd"))


def disconnected(peer, side_gone, limit=1.0):
    """Whether ``peer`` sees the other side (``side_gone``: 'tx' or 'rx') gone within ``limit``."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        try:
            if side_gone == "tx":
                peer.recv_timeout(0.05)
            else:
                peer.send_timeout(None, 0.05)
                if peer._ep.capacity is None:  # an unbounded send succeeds while a receiver lives
                    time.sleep(0.02)
        except (mpsc.RecvError, mpsc.SendError):
            return True
        except mpsc.Timeout:
            pass
    return False


def settle_fds(base):
    gc.collect()
    now = nfds()
    if now != base:
        time.sleep(0.1)
        gc.collect()
        now = nfds()
    return now
