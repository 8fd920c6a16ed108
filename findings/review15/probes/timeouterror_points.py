"""Probe: a signal handler raising TimeoutError at every check point of the pure ring paths."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../review13"))
from _pairs import run  # noqa: E402
import mpsc, mpsc.process  # noqa: E402

class Alarm(TimeoutError):
    pass

def kind(i):
    return Alarm(f"alarm {i}")

def case_send(n):
    tx, rx = mpsc.process.channel()
    hits, where, exc = run(lambda: tx._send("v", None, False), [n], kind)
    got = []
    while True:
        try: got.append(rx.try_recv())
        except mpsc.Empty: break
    tx.close(); rx.close()
    return hits, where, exc, got

def case_recv(n):
    tx, rx = mpsc.process.channel()
    tx.send("v")
    out = []
    def f():
        out.append(rx._recv(None, False))
    hits, where, exc = run(f, [n], kind)
    rest = []
    while True:
        try: rest.append(rx.try_recv())
        except mpsc.Empty: break
    tx.close(); rx.close()
    return hits, where, exc, out + rest

def case_select(n):
    tx, rx = mpsc.process.channel()
    tx.send("v")
    out = []
    def f():
        out.append(mpsc.select(rx, timeout=1.0))
    hits, where, exc = run(f, [n], kind)
    rest = []
    while True:
        try: rest.append(rx.try_recv())
        except mpsc.Empty: break
    tx.close(); rx.close()
    return hits, where, exc, out + rest

bad = 0
for name, case in [("send", case_send), ("recv", case_recv), ("select", case_select)]:
    n = 1
    while True:
        hits, where, exc, got = case(n)
        if not hits:
            break
        lost = not isinstance(exc, Alarm)
        if lost or len(got) != 1:
            bad += 1
            print(f"{name}: point {n} ({where.strip()}): exception seen {exc!r}, values {got}")
        n += 1
    print(name, "points:", n - 1, flush=True)
print("swallowed/bad:", bad)
sys.exit(1 if bad else 0)
