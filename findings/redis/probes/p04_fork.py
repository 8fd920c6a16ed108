"""Probe: fork with live handles (child uses them / not / makes its own channel), parent goes on."""
import os, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from _srv import server
import mpsc, mpsc.redis as mr
srv = server()
tx, rx = mr.channel(srv.url)
tx.send("before")
for mode in ("use", "nothing", "own", "pickle"):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            if mode == "use":
                try: tx.send(1); msg = "sent!?"
                except mpsc.ClosedHandleError: msg = "ClosedHandleError"
            elif mode == "own":
                a, b = mr.channel(srv.url); a.send(5); msg = f"own channel ok {b.recv()}"
            elif mode == "pickle":
                msg = "pickle: " + type(__import__("pickle").dumps(tx)).__name__
            else:
                msg = "nothing"
        except BaseException as e:
            msg = f"{type(e).__name__}: {e}"
        os.write(w, msg.encode()); os.close(w)
        sys.exit(0)
    os.close(w)
    out = os.read(r, 1000).decode(); os.close(r)
    os.waitpid(pid, 0)
    time.sleep(0.5)
    tx.send(mode)
    print(f"child {mode}: {out}; parent recv {rx.recv_timeout(2)!r}; disconnected? {rx.is_disconnected()}")
time.sleep(3)
tx.send("end"); print("3 s later parent still fine:", rx.recv_timeout(2), rx.recv_timeout(2))
