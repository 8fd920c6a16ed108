import os, sys, math, time, threading, pickle
import mpsc, mpsc.process as mpp

problems = []
def fds(): return len(os.listdir('/proc/self/fd'))

class Boom:
    def __reduce__(self): raise ValueError("boom")
class BoomBase:
    def __reduce__(self): raise SystemExit("base boom")
class Slow:
    def __reduce__(self):
        time.sleep(0.3); return (int, (5,))

for cap in (None, 3, 0):
    mk = (lambda: mpp.channel()) if cap is None else (lambda: mpp.sync_channel(cap))
    tx, rx = mk()
    base = fds()
    # carried handle followed by an unpicklable
    for bad in (Boom(), BoomBase(), lambda: 1, threading.Lock()):
        tx2, rx2 = mpp.channel()
        before = fds()
        try:
            tx.send_timeout([tx2, bad], 0.2)
            problems.append(f"cap {cap}: send of {type(bad).__name__} did not raise")
        except BaseException as e:
            if isinstance(e, (mpsc.Timeout,)): problems.append(f"cap {cap}: Timeout instead of pickle error for {type(bad).__name__}")
        tx2.close()
        # rx2 must see RecvError: no dup of tx2 left anywhere
        try:
            rx2.recv_timeout(0.5); problems.append("got something on rx2")
        except mpsc.RecvError: pass
        except mpsc.Timeout: problems.append(f"cap {cap}: {type(bad).__name__}: carried Sender's fds leaked (no RecvError)")
        rx2.close()
    # timeouts
    for t, exp in ((float('nan'), ValueError), (-1, ValueError), (-0.0, None), ("1", TypeError), (None, TypeError), (1e300, 'wait'), (float('inf'), 'wait')):
        try:
            if exp == 'wait':
                # other side: deliver in 0.2s
                def later():
                    time.sleep(0.2)
                    tx.send_timeout("x", 5) if cap != 0 else None
                if cap == 0:
                    continue
                th = threading.Thread(target=later); th.start()
                v = rx.recv_timeout(t); th.join()
                if v != "x": problems.append(f"recv_timeout({t!r}) -> {v!r}")
            else:
                try:
                    rx.recv_timeout(t)
                except mpsc.Timeout:
                    if exp is not None: problems.append(f"cap {cap}: recv_timeout({t!r}) Timeout, expected {exp}")
                else:
                    problems.append(f"recv_timeout({t!r}) returned")
        except Exception as e:
            if exp is None or not isinstance(e, exp):
                problems.append(f"cap {cap}: recv_timeout({t!r}) raised {e!r}, expected {exp}")
    # send_timeout bad timeouts: nothing sent
    for t in (float('nan'), -1, "x"):
        try: tx.send_timeout("bad", t)
        except (ValueError, TypeError): pass
        except Exception as e: problems.append(f"send_timeout(t={t!r}) raised {e!r}")
    try:
        v = rx.try_recv(); problems.append(f"cap {cap}: leftover {v!r}")
    except mpsc.Empty: pass
    # deadline NaN / huge
    for d in (float('nan'), float('-inf')):
        try:
            rx.recv_deadline(d)
        except mpsc.Timeout:
            if d != d: problems.append(f"recv_deadline(nan) -> Timeout")
        except ValueError: pass
    if fds() != base: problems.append(f"cap {cap}: fds {base} -> {fds()}")
    # channel still intact
    if cap != 0:
        tx.send("ok"); assert rx.recv_timeout(1) == "ok"
    tx.close(); rx.close()

print("\n".join(problems) or "all good")
sys.exit(1 if problems else 0)
