"""Probe: SignalInjector (KeyboardInterrupt at the n-th check point) in send / send_many /
send_timeout: the interrupted value arrives at most once (its outcome is documented as unknown),
and the *next* sends through the same handle are never dropped (lanes, sequence numbers)."""
import os, sys, time
from pathlib import Path
HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE)); sys.path.insert(0, str(HERE.parents[1] / "tests"))
from _srv import server
import mpsc, mpsc.redis as mr
from checkpoints import NOT_RETURNED, Injected, SignalInjector
srv = server()
sys.unraisablehook = lambda *a: None
bad = []; tried = 0
for cap in (None, 3):
    for name in ("send", "send_many", "send_timeout"):
        tx, rx = mr.channel(srv.url) if cap is None else mr.bounded(srv.url, cap)
        n = 0; stop_at = time.monotonic() + 6
        while time.monotonic() < stop_at:
            n += 1 if n < 5 else 3
            v = ("x", n)
            call = {"send": lambda: tx.send(v), "send_many": lambda: tx.send_many([v, ("y", n)]),
                    "send_timeout": lambda: tx.send_timeout(v, 1.0)}[name]
            inj = SignalInjector(n, 10**9)
            result, exc = inj.call(call)
            tx.send(("next", n))
            got = []
            while True:
                try: got.append(rx.try_recv())
                except (mpsc.Empty, mpsc.RecvError): break
            tried += 1
            if got.count(v) > 1 or ("next", n) not in got or (result is not NOT_RETURNED and v not in got):
                bad.append((cap, name, n, got, exc))
            if not inj.fired:
                break
        tx.close(); rx.close()
print(f"{tried} interrupted sends; problems: {bad[:5]}")
sys.exit(1 if bad else 0)
