import os, sys, time, random, signal, subprocess, pickle, collections, tempfile, traceback
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from _srv import server
import mpsc, mpsc.redis
srv = server(persist=False)
RECV = r'''
import sys, os, time, pickle, mpsc
rx = pickle.loads(bytes.fromhex(sys.stdin.readline().strip()))
out = []
try:
    while True:
        out.append(rx.recv_timeout(20)); time.sleep(0.0005)
except mpsc.RecvError:
    pass
open(sys.argv[1], "w").write(repr(out))
'''
cap = int(sys.argv[1]) if len(sys.argv) > 1 else 0
escaped = 0
for rnd in range(3):
    tx, rx = mpsc.redis.bounded(srv.url, cap)
    f = tempfile.mktemp()
    p = subprocess.Popen([sys.executable, "-c", RECV, f], stdin=subprocess.PIPE, text=True)
    p.stdin.write(pickle.dumps(rx).hex() + "\n"); p.stdin.close(); rx.close()
    armed = [False]; ints = [0]
    def handler(s, fr):
        signal.setitimer(signal.ITIMER_REAL, random.uniform(0.0003, 0.0009))
        if armed[0]:
            armed[0] = False; ints[0] += 1
            raise KeyboardInterrupt(ints[0])
    prev = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, 0.0005)
    returned, unknown = [], []
    i = -1
    try:
        for i in range(400):
            try:
                armed[0] = True
                tx.send(i)
                armed[0] = False
                returned.append(i)
            except KeyboardInterrupt:
                unknown.append(i)
    except BaseException as e:
        armed[0] = False
        escaped += 1
        print(f"round {rnd}: ESCAPED at i={i}: {type(e).__mro__[:3]} args={e.args} storm-raised={ints[0]} ctx={e.__context__!r}")
        traceback.print_exc(limit=3)
    finally:
        armed[0] = False
        signal.signal(signal.SIGALRM, signal.SIG_IGN); signal.setitimer(signal.ITIMER_REAL, 0); signal.signal(signal.SIGALRM, prev)
    tx.close(); p.wait(60)
    got = collections.Counter(eval(open(f).read()))
    print(f"round {rnd}: returned {len(returned)} unknown {len(unknown)} dups {[v for v in got if got[v]>1][:5]} lost {[v for v in returned if not got[v]][:5]}")
sys.exit(1 if escaped else 0)
