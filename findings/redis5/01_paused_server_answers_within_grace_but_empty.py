"""A server paused for less than GRACE (0.5 s) while a try_recv / recv_timeout(0) is in flight
answers within GRACE, yet the receive says Empty / Timeout with a message there (new with the
fetch's ``late``, 93fa3e7: the fetch's late is its give-up less GRACE/2, so a fetch that
reaches a server paused 0.25-0.5 s does nothing and answers 'late').

Promise (Receiver.try_recv): "Empty: No message is there now (or another thread or task is
receiving through this handle right now, or the server did not answer within ``GRACE``)".
Receiver.recv_timeout: "A fetch sent before it passed is waited for up to ``GRACE`` more, and
what it fetched is returned: ``recv_timeout(0)`` returns a message that is there."

What happens: one value in an unbounded channel, nothing else receives. The server is paused
(SIGSTOP) for 0.35 s right as try_recv sends its fetch: try_recv returns after ~0.35 s (the
server answered, within GRACE) with Empty; the same for recv_timeout(0) -> Timeout. Before
93fa3e7 both returned the value. Exit 1 when either happens.
"""
import os, sys, time, threading
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _srv import server
import mpsc, mpsc.redis

srv = server(persist=False)
tx, rx = mpsc.redis.unbounded(srv.url, name="c")
tx.send("v")
bad = []
for meth in ("try_recv", "recv_timeout(0)"):
    for trial in range(3):
        # warm: the link knows the server's clock, and a connection is idle
        try:
            rx.try_recv()
        except mpsc.Empty:
            pass
        tx.send(meth)
        time.sleep(0.05)  # (past IDLE: the lease thread's give-back is done)
        srv.pause()
        threading.Timer(0.35, srv.resume).start()
        t0 = time.monotonic()
        try:
            v = rx.try_recv() if meth == "try_recv" else rx.recv_timeout(0)
            out = f"value {v!r}"
        except (mpsc.Empty, mpsc.Timeout) as e:
            out = repr(e)
        took = time.monotonic() - t0
        time.sleep(0.1)
        print(f"{meth}: {out} after {took:.3f} s", flush=True)
        if not out.startswith("value"):
            bad.append(meth)
            # the value is still there: the next receive gets it
            print("   then recv_timeout(1):", repr(rx.recv_timeout(1)), flush=True)
            break
print("bad" if bad else "ok", bad)
os._exit(1 if bad else 0)
