import os, sys, time, threading, pickle, signal
sys.path.insert(0, __import__("os").path.join(__import__("os").path.dirname(__file__), ".."))
from _srv import server
import mpsc, mpsc.redis as mr
srv = server()
stop = threading.Event()
tx0, rx0 = mr.channel(srv.url)
def churn():
    while not stop.is_set():
        t, r = mr.channel(srv.url); t.close(); r.close()
def unp():
    while not stop.is_set():
        h = pickle.loads(pickle.dumps(tx0)); h.close()
ths = [threading.Thread(target=churn), threading.Thread(target=unp)]
for t in ths: t.start()
hung = 0; n = 0
t_end = time.monotonic() + 30
while time.monotonic() < t_end and n < 150:
    n += 1
    pid = os.fork()
    if pid == 0:
        signal.alarm(5)
        try:
            t, r = mr.channel(srv.url); t.send(1); assert r.recv_timeout(2) == 1; t.close(); r.close()
            os._exit(0)
        except BaseException:
            os._exit(3)
    _, st = os.waitpid(pid, 0)
    if os.WIFSIGNALED(st): hung += 1; print("child", n, "hung (SIGALRM)")
    elif os.WEXITSTATUS(st) != 0: print("child", n, "exit", os.WEXITSTATUS(st))
stop.set()
for t in ths: t.join(10)
tx0.close(); rx0.close()
print(f"{n} forks, {hung} children hung")
