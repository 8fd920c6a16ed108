"""Fork while other threads receive (acks_lock taken per hand-out): does close() of the
inherited handle hang in the child?"""
import os, sys, time, threading, signal, faulthandler
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from _srv import server
import mpsc, mpsc.redis
srv = server()
tx, rx = mpsc.redis.unbounded(srv.url, name="f")
stop = False
def feeder():
    i = 0
    while not stop:
        tx.send_many(range(i, i + 200)); i += 200
        time.sleep(0.001)
def receiver():
    while not stop:
        try: rx.recv_timeout(0.05)
        except mpsc.Timeout: pass
ths = [threading.Thread(target=feeder, daemon=True)] + [threading.Thread(target=receiver, daemon=True) for _ in range(3)]
for t in ths: t.start()
hung = 0; N = int(sys.argv[1])
for k in range(N):
    pid = os.fork()
    if pid == 0:
        signal.alarm(3)
        faulthandler.dump_traceback_later(2, exit=False, file=sys.stderr)
        try:
            rx.close(); tx.close()
        except BaseException:
            pass
        os._exit(0)
    _, st = os.waitpid(pid, 0)
    if os.WIFSIGNALED(st):
        hung += 1
        print("child", k, "killed by signal", os.WTERMSIG(st), flush=True)
        if hung >= 1: break
    time.sleep(0.005)
stop = True
print(sys.version.split()[0], "forks", k + 1, "hung children", hung, flush=True)
os._exit(1 if hung else 0)
