"""mpsc.select over a Redis Receiver, a value in the channel, nothing else receiving: if the
server is paused 0.35 s (less than GRACE) while select's first look (a try_recv) is in flight,
select sleeps for about a lease (LEASE + 1 s) before it returns the value that was there all
along.

Promise (mpsc.select): "Wait until one of ``operations`` completes"; a receive completes when
a value is there. The Redis Source's blocking read "starts where the try saw the stream"
(``EmptyAt.marks``: "a select's blocking read starts there").

What happens: the fetch reaches the paused server past its ``late`` (give-up less GRACE/2,
93fa3e7) and answers 'late'; ``_recv_steps`` raises ``EmptyAt((b"$", b"$"))``; the Source
records ``$`` and its XREAD BLOCK waits for an entry *newer than now*: the value already in the
stream does not wake it, and the select sleeps out its slice (lease + 1 s). Before 93fa3e7 the
fetch ran and select returned at once (pauses of 0.25-0.5 s; a pause over GRACE did the same
before, through ``Expired``). Exit 1 if select takes over 2 s.
"""
import os, sys, time, threading
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _srv import server
import mpsc, mpsc.redis

srv = server(persist=False)
tx, rx = mpsc.redis.unbounded(srv.url, name="c", lease=5.0)
tx.send("warm")
assert rx.recv_timeout(1) == "warm"
tx.send("v")
time.sleep(0.05)
srv.pause()
threading.Timer(float(sys.argv[1]) if len(sys.argv) > 1 else 0.35, srv.resume).start()
t0 = time.monotonic()
try:
    out = mpsc.select(rx, timeout=15)
except mpsc.Timeout as e:
    out = repr(e)
took = time.monotonic() - t0
print(f"select returned {out!r} after {took:.2f} s (lease 5 s)", flush=True)
bad = took > 2.0
print("bad" if bad else "ok")
os._exit(1 if bad else 0)
