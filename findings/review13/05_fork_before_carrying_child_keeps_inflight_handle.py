"""A child forked (from another thread) while a handle-carrying message is between its fds'
creation and ``_endpoint.carrying(record)`` keeps those fds for its whole life, even after
``release_inherited()``: the carried channel never disconnects while the child lives.

Promise: DESIGN.md "A fork copies only what the child should hold. A forked child closes the fds
of handles that its parent's threads had in flight (``_endpoint.carrying``: messages carrying
handles, sent or received); ``release_inherited`` closes the handles it was not meant to keep.";
``carrying`` docstring: "a child forked meanwhile from another thread gets copies that nobody
there would close ... The child closes them as it starts."

What happens: a receive notes the datagram only in ``_wire._parse`` (after ``recvmsg``, through
``_steps.finished`` → ``_finish_taken`` → ``_Receiving`` → ``settle`` → ``_parse`` → ``_fds_of``
→ ``carrying``: every function start is a check point where another thread may run and fork);
a send notes its message only after pickling dup'ed the carried handle's fds
(``Endpoint.using`` → ``leave`` → ... → ``carrying``). A fork at any of those check points
(here: at the start of ``carrying`` itself, forced with a trace function that lets the forking
thread run there) gives the child copies nobody closes. The child calls ``release_inherited()``
and lives on (a worker): the parent closes every handle of the carried Sender's side, and its
Receiver does not see the disconnection (``recv_timeout`` times out instead of ``RecvError``)
until the child exits. Both implementations; receive and send. Pre-existing (4633a47 the same,
see probes/fork_every_call.py). Exit 1 if the carried channel stays connected.
"""

import os
import signal
import sys
import threading
import time

import mpsc
import mpsc.process as mpp
from mpsc.process import _endpoint
from mpsc.process import _implementation

print("implementation:", _implementation.in_use())
CARRYING = _endpoint.carrying.__code__
req, done = threading.Event(), threading.Event()
children = []


def forker():
    while True:
        req.wait()
        req.clear()
        pid = os.fork()
        if pid == 0:
            try:
                mpp.release_inherited()
                time.sleep(3)  # a worker living on
            finally:
                os._exit(0)
        children.append(pid)
        done.set()


threading.Thread(target=forker, daemon=True).start()


def trace(frame, event, arg):
    if event == "call" and frame.f_code is CARRYING and not children:
        sys.settrace(None)
        done.clear()
        req.set()
        done.wait(5)
        return None
    return trace


def attempt(what):
    children.clear()
    tx, rx = mpp.channel()
    otx, orx = mpp.sync_channel(2)
    sys.settrace(trace)
    try:
        if what == "send":
            tx.send(("h", otx))
        else:
            tx_plain = tx
            sys.settrace(None)
            tx_plain.send(("h", otx))
            sys.settrace(trace)
        got = rx.recv_timeout(5)
    finally:
        sys.settrace(None)
    otx.close()
    got[1].close()  # every Sender of that channel in this process is closed now
    forked = bool(children)
    try:
        orx.recv_timeout(1.0)
        verdict = "received a value?"
    except mpsc.RecvError:
        verdict = None
    except mpsc.Timeout:
        verdict = "the carried channel stays connected (a forked child that called release_inherited() still holds its Sender's fds)"
    for pid in children:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    for h in (tx, rx, orx):
        h.close()
    return forked, verdict


bad = 0
for what in ("recv", "send"):
    forked, verdict = attempt(what)
    print(f"fork at carrying() during {what}: forked={forked}: {verdict or 'disconnects: fine'}")
    bad += bool(forked and verdict)
sys.exit(1 if bad else 0)
