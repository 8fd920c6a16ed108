"""A value whose unpickling genuinely fails (its reconstructor raises) is consumed once and
raises once; the next message is then received.

Promise (mpsc.process doc: "a value that fails to unpickle by itself raises its own error at once
and its code runs once"; mpsc.redis doc: "a value's unpickling error consumes the entry and
raises"; bridge doc: "a message whose unpickling raises is consumed ... reported as a
RuntimeWarning; the bridge goes on with the next one").
Cases: process unbounded/bounded(4)/rendezvous, plain and carrying a process Sender, raising
ValueError and mpsc.Empty (a ChannelError); redis bridge with ValueError and mpsc.Empty.
Exit 1 if any case does not raise exactly once, run the reconstructor once and deliver "after".
"""

import os
import sys
import threading
import warnings

import mpsc
import mpsc.process as mpp

runs = [0]


def raise_value():
    runs[0] += 1
    raise ValueError("bad value")


def raise_empty():
    runs[0] += 1
    raise mpsc.Empty()


class Bad:
    def __init__(self, fn):
        self.fn = fn

    def __reduce__(self):
        return (self.fn, ())


bad = []


def process_case(cap, with_handle, fn):
    runs[0] = 0
    tx, rx = mpp.unbounded() if cap is None else mpp.bounded(cap)
    otx, orx = mpp.unbounded()

    def send():
        tx.send((Bad(fn), otx) if with_handle else Bad(fn))
        tx.send("after")

    th = threading.Thread(target=send)
    th.start()
    errors, got = [], []
    for _ in range(4):
        try:
            got.append(rx.recv_timeout(2))
            break
        except mpsc.Timeout:
            errors.append("Timeout")
            break
        except Exception as exc:
            errors.append(type(exc).__name__)
    th.join(5)
    ok = len(errors) == 1 and errors[0] == fn.__name__.replace("raise_", "").replace("value", "ValueError").replace("empty", "Empty") and got == ["after"] and runs[0] == 1
    print(f"process cap={cap} handle={with_handle} {fn.__name__}: errors={errors} got={got} runs={runs[0]} {'ok' if ok else 'DEFECT'}")
    if not ok:
        bad.append((cap, with_handle, fn.__name__))
    for h in (tx, rx, otx, orx):
        h.close()


for cap in (None, 4, 0):
    for wh in (False, True):
        for fn in (raise_value, raise_empty):
            process_case(cap, wh, fn)

import mpsc.redis as mr  # noqa: E402

URL = "redis://127.0.0.1:%s/0" % open("/tmp/r8redis/port").read().strip()
for fn in (raise_value, raise_empty):
    runs[0] = 0
    tx, rx = mr.unbounded(URL)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        brx = mr.bridge(rx)
        tx.send(Bad(fn))
        tx.send("after")
        try:
            got = brx.recv_timeout(3)
        except mpsc.Timeout:
            got = "Timeout"
        except mpsc.RecvError:
            got = "RecvError (bridge ended)"
    nw = sum(1 for x in w if issubclass(x.category, RuntimeWarning))
    ok = got == "after" and nw == 1 and runs[0] == 1
    print(f"redis bridge {fn.__name__}: got={got!r} warnings={nw} runs={runs[0]} {'ok' if ok else 'DEFECT'}")
    if not ok:
        bad.append(("bridge", fn.__name__))
    brx.close()
    tx.close()
print("bad:", bad)
sys.exit(1 if bad else 0)
