"""Probe (review 5): recv_async cancelled at random instants (asyncio.wait_for), optionally with
the server SIGSTOPped 0.05-0.6 s at random meanwhile; then rx1 drains (sync) to RecvError. Every
value counted. argv: kind (u|4|0), trials, pause (0|1). Exit 1 on any bad."""
import os, sys, time, random, threading, asyncio
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _srv import server
import mpsc, mpsc.redis
kind = sys.argv[1]; TRIALS = int(sys.argv[2]); PAUSE = sys.argv[3] == "1"
srv = server()
bad = 0; cancelled = 0; t0 = time.monotonic()
for trial in range(TRIALS):
    tx, rx1 = (mpsc.redis.unbounded(srv.url, name=f"c{trial}") if kind == "u" else mpsc.redis.bounded(srv.url, int(kind), name=f"c{trial}"))
    M = 30
    def sender():
        for i in range(M):
            try:
                tx.send_timeout(i, 20)
            except Exception as e:
                print("send", i, repr(e), flush=True)
            time.sleep(random.uniform(0, 0.005))
        tx.close()
    st = threading.Thread(target=sender, daemon=True); st.start()
    stop = threading.Event()
    def pauser():
        while not stop.is_set():
            time.sleep(random.uniform(0.0, 0.05))
            if stop.is_set(): break
            srv.pause(); time.sleep(random.choice([0.05, 0.2, 0.3, 0.45, 0.6])); srv.resume()
    pt = threading.Thread(target=pauser, daemon=True) if PAUSE else None
    if pt: pt.start()
    got = []
    async def main():
        global cancelled
        for k in range(20):
            try:
                got.append(await asyncio.wait_for(rx1.recv_async(), random.uniform(0.0001, 0.3 if PAUSE else 0.003)))
            except (asyncio.TimeoutError, TimeoutError):
                cancelled += 1
            except mpsc.RecvError:
                break
    asyncio.run(main())
    stop.set()
    if pt: pt.join(2); srv.resume()
    why = None
    while True:
        try:
            got.append(rx1.recv_timeout(3))
        except mpsc.Timeout:
            why = "Timeout"; break
        except mpsc.RecvError:
            break
    st.join(25)
    missing = sorted(set(range(M)) - set(got)); dup = len(got) - len(set(got))
    if missing or dup or why:
        bad += 1
        print(f"trial {trial}: end {why or 'RecvError'} missing {missing} dup {dup} orph {rx1._orphans} fence {rx1._fence}", flush=True)
    rx1.close()
print(sys.version.split()[0], kind, "pause", PAUSE, "trials", TRIALS, "cancelled", cancelled, "bad", bad, f"{time.monotonic()-t0:.0f}s", flush=True)
os._exit(1 if bad else 0)
