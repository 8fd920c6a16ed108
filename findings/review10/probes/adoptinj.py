import sys, mpsc, mpsc.process as m
from mpsc.process import _endpoint, _implementation
tx, rx = m.channel()
otx, orx = m.channel()
tx.send(("carrying", otx))
otx.close()  # this process no longer holds that side: the receive adopts a new endpoint
real = _endpoint._register
left = [1]
def register(ep):
    if left[0]:
        left[0] -= 1
        raise KeyboardInterrupt  # as a signal handler's, landing as _register starts
    return real(ep)
_endpoint._register = register
def nop(): pass
got = None
outcomes = []
for attempt in range(3):
    try:
        got = rx.try_recv()
        nop()
        outcomes.append("value")
        break
    except KeyboardInterrupt:
        outcomes.append("KeyboardInterrupt" + (" (after the value)" if got is not None else ""))
        if got is not None: break
    except Exception as e:
        outcomes.append(repr(e)[:90])
    except BaseException as e:
        outcomes.append(repr(e)[:90])
print(_implementation.in_use(), outcomes, "received:", got is not None)
sys.exit(0 if got is not None else 1)
