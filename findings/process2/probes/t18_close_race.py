import sys, time, threading, random, multiprocessing as mp
import mpsc, mpsc.process as mpp
N = 20000
def child(tx):
    for i in range(N): tx.send_timeout(i, 30)
    tx.close()
def run(cap):
    tx, rx = mpp.channel() if cap is None else mpp.sync_channel(cap)
    p = mp.get_context("fork").Process(target=child, args=(tx,)); p.start(); tx.close()
    got = []; lock = threading.Lock(); stop = threading.Event(); errors = []
    shared = {"h": rx.clone()}
    def user():
        while not stop.is_set():
            h = shared["h"]
            try:
                v = h.recv_timeout(0.05)
                with lock: got.append(v)
            except (mpsc.ClosedHandleError, mpsc.Timeout):
                pass
            except mpsc.RecvError:
                return
            except Exception as e:
                errors.append(repr(e)); return
    def closer():
        while not stop.is_set():
            time.sleep(random.random() * 0.002)
            old = shared["h"]; shared["h"] = rx.clone(); old.close()
    ths = [threading.Thread(target=user) for _ in range(3)] + [threading.Thread(target=closer)]
    for t in ths: t.start()
    t0 = time.monotonic()
    while time.monotonic() - t0 < 15 and len(got) < N:
        time.sleep(0.05)
    stop.set()
    for t in ths: t.join(5)
    p.join(5)
    rest = []
    while True:
        try: rest.append(rx.try_recv())
        except (mpsc.Empty, mpsc.RecvError): break
    allv = got + rest
    print(f"cap={cap}: threads got {len(got)}, left {len(rest)}, missing {len(set(range(N)) - set(allv))}, dups {len(allv)-len(set(allv))}, errors {errors[:3]}")
    shared["h"].close(); rx.close()
    if p.is_alive(): p.kill(); p.join()
    return sorted(allv) == list(range(N)) and not errors
if __name__ == "__main__":
    ok = True
    for cap in (None, 3, 0):
        ok &= run(cap)
    sys.exit(0 if ok else 1)
