"""SIGALRM storm (KeyboardInterrupt every 0.3-0.7 ms) in the main thread while it mixes
receives on bounded/unbounded/rendezvous A (fed by a thread here), sends on bounded B (drained by a
thread here: its sends run _ack_here), len()/is_full(). Counts every value."""
import os, sys, time, random, signal, threading, collections
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from _srv import server
import mpsc, mpsc.redis

srv = server(persist=False)
url = srv.url
ok = True
for capA in (2, None, 0, 1):
    ta, ra = mpsc.redis.channel(url) if capA is None else mpsc.redis.bounded(url, capA)
    tb, rb = mpsc.redis.bounded(url, 2)
    N = 400
    def produce():
        with ta:
            for i in range(N):
                ta.send(i)
    gotB = collections.Counter()
    def consume():
        try:
            while True:
                gotB[rb.recv_timeout(30)] += 1
        except mpsc.RecvError:
            pass
    pth = threading.Thread(target=produce); pth.start()
    cth = threading.Thread(target=consume); cth.start()
    got = []
    sentB = []
    armed = [False]; ints = [0]
    def handler(signum, frame):
        signal.setitimer(signal.ITIMER_REAL, random.uniform(0.0003, 0.0007))
        if armed[0]:
            armed[0] = False; ints[0] += 1
            raise KeyboardInterrupt
    prev = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, 0.0005)
    ended = False; stop = time.monotonic() + 40; k = 0; errs = []
    try:
        while not ended and time.monotonic() < stop:
            try:
                while True:
                    op = random.random()
                    if op < 0.6:
                        armed[0] = True
                        v = ra.recv_timeout(random.choice([0, 0.002, 0.05, 1.0]))
                        armed[0] = False
                        got.append(v)
                    elif op < 0.85:
                        k += 1
                        armed[0] = True
                        if random.random() < 0.5:
                            tb.try_send(k)
                        else:
                            tb.send_timeout(k, random.choice([0, 0.01]))
                        armed[0] = False
                        sentB.append(k)
                    else:
                        armed[0] = True
                        if random.random() < 0.5:
                            len(ra)
                        else:
                            tb.is_full()
                        armed[0] = False
            except KeyboardInterrupt:
                pass
            except (mpsc.Full, mpsc.Timeout, mpsc.Empty):
                armed[0] = False
            except mpsc.RecvError:
                armed[0] = False
                ended = True
            except Exception as e:
                armed[0] = False
                errs.append(repr(e))
    finally:
        armed[0] = False
        signal.signal(signal.SIGALRM, signal.SIG_IGN)
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, prev)
    pth.join(10)
    tb.close(); cth.join(30)
    ra.close(); rb.close()
    c = collections.Counter(got)
    lostA = [i for i in range(N) if c[i] == 0]; dupA = [i for i in c if c[i] > 1]
    lostB = [v for v in sentB if gotB[v] == 0]; dupB = [v for v in gotB if gotB[v] > 1]
    res = not lostA and not dupA and not lostB and not dupB and ended and not errs and not cth.is_alive()
    print(f"capA={capA}: interrupts={ints[0]} A got={len(got)} lost={lostA[:5]}({len(lostA)}) dup={dupA[:5]} ended={ended}; B sent={len(sentB)} lost={lostB[:5]} dup={dupB[:5]} errs={errs[:3]} -> {'ok' if res else 'BAD'}")
    ok &= res
sys.exit(0 if ok else 1)
