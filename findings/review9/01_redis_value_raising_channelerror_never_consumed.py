"""A value whose own unpickling raises a ChannelError (here ``mpsc.Empty``, as a reconstructor
that itself try_recv's from a thread channel would) is never consumed by an mpsc.redis receive.

Promise (mpsc.redis doc, known limits): "a value's unpickling error consumes the entry and
raises (a handle's adoption failing does not)". ``Receiver._hand_out`` treats every
``ChannelError`` out of ``loads`` as an adoption failure (``except (Expired, ChannelError)``),
whatever raised it: the entry stays first and every later receive raises the same error again,
so the messages behind it are never received (also the bridge: it ends on ChannelError).
Also probes ValueError (must be consumed once) on plain and handle-carrying messages.
Exit 1 if the ChannelError-raising value is not consumed after a few receives.
"""

import os
import sys

import mpsc
import mpsc.redis

URL = os.environ.get("URL", "redis://127.0.0.1:%s/0" % open("/tmp/r8redis/port").read().strip())
calls = {"empty": 0, "value": 0}


def raise_empty():
    calls["empty"] += 1
    raise mpsc.Empty()


def raise_value():
    calls["value"] += 1
    raise ValueError("bad value")


class BadEmpty:
    def __reduce__(self):
        return (raise_empty, ())


class BadValue:
    def __reduce__(self):
        return (raise_value, ())


def probe(kind, bad, with_handle):
    if kind == "unbounded":
        tx, rx = mpsc.redis.unbounded(URL)
    else:
        tx, rx = mpsc.redis.bounded(URL, 4)
    otx, orx = mpsc.redis.unbounded(URL)
    payload = (bad(), otx) if with_handle else bad()
    tx.send(payload)
    tx.send("after")
    errors = []
    got = []
    for _ in range(5):
        try:
            got.append(rx.recv_timeout(2))
            break
        except mpsc.Timeout:
            errors.append("Timeout")
            break
        except Exception as exc:
            errors.append(type(exc).__name__)
    for h in (tx, rx, otx, orx):
        h.close()
    return errors, got


defect = False
for kind in ("unbounded", "bounded4"):
    for with_handle in (False, True):
        for name, bad in (("ValueError", BadValue), ("Empty", BadEmpty)):
            calls["empty"] = calls["value"] = 0
            errors, got = probe(kind, bad, with_handle)
            ok = errors == [name] and got == ["after"]
            print(f"{kind:9} handle={with_handle!s:5} {name:10}: errors={errors} got={got} "
                  f"reconstructor runs={calls['empty'] + calls['value']} {'ok' if ok else 'DEFECT'}")
            defect |= not ok
sys.exit(1 if defect else 0)
