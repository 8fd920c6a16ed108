"""Probe: bad input and simple faults; prints what each call does (no exit status)."""
import math, os, sys, time, pickle, threading
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from _srv import server
import mpsc, mpsc.redis as mr

srv = server()
U = srv.url

def t(label, fn):
    t0 = time.monotonic()
    try:
        r = fn(); out = f"-> {r!r}"[:90]
    except BaseException as e:
        out = f"!! {type(e).__module__}.{type(e).__name__}: {str(e)[:90]}"
    print(f"{label:45s} {time.monotonic()-t0:5.2f}s {out}", flush=True)

t("bad scheme", lambda: mr.channel("http://x"))
t("no host", lambda: mr.channel("redis://"))
t("bad port", lambda: mr.channel("redis://localhost:99999"))
t("url None", lambda: mr.channel(None))
t("db 99", lambda: mr.channel("redis://127.0.0.1:%d/99" % srv.port))
t("unreachable", lambda: mr.channel("redis://127.0.0.1:1/0"))
t("blackhole 10.255.255.1", lambda: mr.channel("redis://10.255.255.1:6379/0"))
t("name ''", lambda: mr.channel(U, ""))
t("name {x}", lambda: mr.channel(U, "{x}"))
t("name 5", lambda: mr.channel(U, 5))
t("cap -1", lambda: mr.bounded(U, -1))
t("cap 0", lambda: mr.bounded(U, 0))
t("cap 1.5", lambda: mr.bounded(U, 1.5))
t("cap True", lambda: mr.bounded(U, True))
t("cap 2**70", lambda: mr.bounded(U, 2**70))
t("lease nan", lambda: mr.channel(U, lease=float("nan")))
t("lease 0.05", lambda: mr.channel(U, lease=0.05))
srv.command("SET", "strkey", "v")
t("name of a string key", lambda: mr.channel(U, "strkey"))
tx, rx = mr.bounded(U, 2, "named")
t("reopen with other cap", lambda: mr.bounded(U, 3, "named"))
t("reopen unbounded", lambda: mr.channel(U, "named"))
t("send_timeout -1", lambda: tx.send_timeout(1, -1))
t("send_timeout nan", lambda: tx.send_timeout(1, float("nan")))
t("send_timeout inf", lambda: tx.send_timeout(1, float("inf")))
t("recv_timeout nan", lambda: rx.recv_timeout(float("nan")))
t("recv_timeout -1", lambda: rx.recv_timeout(-1))
t("recv_timeout inf (has msg)", lambda: rx.recv_timeout(float("inf")))
t("recv_deadline nan", lambda: rx.recv_deadline(float("nan")))
t("recv_deadline 1e300 (has none->?)", lambda: (tx.send(2), rx.recv_deadline(1e300))[1])
t("recv_timeout 1e300 (none)", lambda: rx.recv_timeout(1e-9))
t("send lambda", lambda: tx.send(lambda: 1))
t("send_many with lambda", lambda: tx.send_many([1, lambda: 1]))
t("len after send_many fail", lambda: len(rx))
t("send_many []", lambda: tx.send_many([]))
t("send_many 5 on cap2 (blocks?) timeout via thread", lambda: None)
class Bad:
    def __reduce__(self): raise RuntimeError("boom")
t("send Bad", lambda: tx.send(Bad()))
class Unp:
    def __reduce__(self): return (int, ("x",))
t("send Unp (fails at unpickle)", lambda: tx.send(Unp()))
t("recv Unp", lambda: rx.recv())
t("recv after unpickle error", lambda: rx.try_recv())
tx2 = tx.clone(); tx2.close()
t("send after close", lambda: tx2.send(1))
t("len after close", lambda: len(tx2))
t("clone after close", lambda: tx2.clone())
t("pickle after close", lambda: pickle.dumps(tx2))
t("is_disconnected after close", lambda: tx2.is_disconnected())
t("repr closed", lambda: repr(tx2))
t("close twice", lambda: tx2.close())
t("copy", lambda: __import__("copy").copy(tx))
t("same_channel thread", lambda: tx.same_channel(mpsc.channel()[0]))
# big values
big = b"x" * (50 * 1024 * 1024)
tb, rb = mr.channel(U)
t("send 50MB", lambda: tb.send(big))
t("recv 50MB", lambda: len(rb.recv()))
# wrong type after creation
tw, rw = mr.channel(U)
srv.command("DEL", tw.name); srv.command("SET", tw.name, "oops")
t("send after stream replaced by string", lambda: tw.send(1))
t("recv after stream replaced by string", lambda: rw.try_recv())
# FLUSHALL mid-run
tf, rf = mr.channel(U)
tf.send(1)
srv.command("FLUSHALL")
t("send after FLUSHALL", lambda: tf.send(2))
t("recv after FLUSHALL", lambda: rf.try_recv())
t("is_disconnected after FLUSHALL", lambda: rf.is_disconnected())
t("len after FLUSHALL", lambda: len(rf))
# password
ps = server(password="s3cret")
t("no password", lambda: mr.channel(f"redis://127.0.0.1:{ps.port}/0"))
t("wrong password", lambda: mr.channel(f"redis://:bad@127.0.0.1:{ps.port}/0"))
t("right password", lambda: mr.channel(ps.url)[0].name)
