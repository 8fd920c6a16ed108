"""Probe: SIGKILL of the last sender / last receiver process: when does the survivor notice?"""
import os, signal, subprocess, sys, time, pickle, base64
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from _srv import server
import mpsc, mpsc.redis as mr
srv = server()
for side in ("tx", "rx"):
    tx, rx = mr.bounded(srv.url, 2)
    h = tx if side == "tx" else rx
    blob = base64.b64encode(pickle.dumps(h)).decode()
    h.close()
    child = subprocess.Popen([sys.executable, "-c", f"import pickle,base64,time,sys; h=pickle.loads(base64.b64decode('{blob}')); print('ok', flush=True); time.sleep(60)"], stdout=subprocess.PIPE)
    child.stdout.readline()
    time.sleep(0.5)
    child.kill(); child.wait(); t0 = time.monotonic()
    try:
        if side == "tx":
            rx.recv_timeout(10)
        else:
            tx.send(1); tx.send(2); tx.send_timeout(3, 10)
        r = "nothing?"
    except (mpsc.RecvError, mpsc.SendError) as e:
        r = type(e).__name__
    except mpsc.Timeout:
        r = "Timeout"
    print(f"SIGKILL of last {side}: survivor saw {r} after {time.monotonic() - t0:.2f} s (promised < 2 s)")
