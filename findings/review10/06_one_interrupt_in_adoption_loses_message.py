"""One interrupt landing while a received message's handle is adopted as a *new* endpoint (this
process does not hold that side already) loses the message, and leaves that handle's fd open
for good (its channel never disconnects). Both implementations (pre-existing in the pure code,
which the compiled receive hands such messages to).

Promises: mpsc.process doc, Interrupts: "whatever exception lands in a call ..., the call either
did not happen (it propagates, the channel is as it was) or happened and returns its result,
the exception raised right after"; known limits: "a value whose own Python code runs as it
unpickles ... is unpickled again when an interrupt lands in that code, and after three such
interrupts in one receive the message counts as unreadable ...; in mpsc's own part of
unpickling, a carried handle's adoption, any exception counts as an interrupt" — so one
interrupt must cost a second unpickling, not the message.

What happens (code reading): ``_travel._from_message`` marks the fds taken (-1 in
``local.incoming``) before ``adopt`` makes the Endpoint; an exception landing as the Endpoint is
made (here as ``_endpoint._register`` starts, the last step of ``Endpoint.__init__``; a signal
handler lands there as at any function start) leaves ``adopted`` without the handle, so the
second unpickling finds the fds gone ("a handle's file descriptors are missing from its
message", an Exception through the adoption: counted as an interrupt again), and so on until
the message is unreadable. The socket object the half-made Endpoint took stays in
``_endpoint._sockets``: its fd is never closed. (Old finding 07 of the first review saw the fd
leak and the swapped exception; the loss after a single interrupt is what is checked here.)

A real SIGALRM stress (probes/stress.py, KINDS=h, EXC=kbd) loses the first handle-carrying
message of a producer this way in about half the runs, under both implementations.
Exit 1 if the message is lost or the carried Sender's channel does not disconnect once every
handle of it is gone.
"""

import gc
import os
import sys

import mpsc
import mpsc.process
from mpsc.process import _endpoint, _implementation

print("implementation:", _implementation.in_use())
tx, rx = mpsc.process.channel()
otx, orx = mpsc.process.channel()
tx.send(("carrying", otx))
otx.close()  # this process no longer holds that side: the receive adopts a new endpoint
real = _endpoint._register
left = [1]


def register(endpoint):
    if left[0]:
        left[0] -= 1
        raise KeyboardInterrupt  # as a signal handler's, landing as _register starts
    return real(endpoint)


def nop():
    pass


_endpoint._register = register
got = None
outcomes = []
for _attempt in range(3):
    try:
        got = rx.try_recv()
        nop()
        outcomes.append("value")
        break
    except KeyboardInterrupt:
        outcomes.append("KeyboardInterrupt" + (" (raised after the value was returned)" if got is not None else ""))
        if got is not None:
            break
    except Exception as exc:  # noqa: BLE001
        outcomes.append(repr(exc)[:90])
_endpoint._register = real
print("receives:", outcomes, "| message received:", got is not None)
if got is not None:
    got[1].close()
del got
gc.collect()
disconnected = orx.is_disconnected()
print("the carried Sender's channel disconnected once its handles are gone:", disconnected)
print("fds open:", len(os.listdir("/proc/self/fd")))
sys.exit(0 if outcomes[-1].startswith(("value", "KeyboardInterrupt (raised after")) and disconnected else 1)
