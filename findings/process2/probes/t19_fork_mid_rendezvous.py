import os, sys, time, threading, signal, multiprocessing as mp
import mpsc, mpsc.process as mpp
N = 1500
def receiver(rx, out):
    got = []
    while True:
        try: got.append(rx.recv_timeout(20))
        except (mpsc.RecvError, mpsc.Timeout): break
    out.send(got); out.close()
if __name__ == "__main__":
    tx, rx = mpp.sync_channel(0)
    otx, orx = mpp.channel()
    p = mp.get_context("spawn").Process(target=receiver, args=(rx, otx)); p.start(); rx.close(); otx.close()
    slow = []; errors = []
    def sender():
        for i in range(N):
            t = time.monotonic()
            try:
                tx.send_timeout(("p", i), 10)
            except Exception as e:
                errors.append((i, repr(e)))
            slow.append(time.monotonic() - t)
    th = threading.Thread(target=sender); th.start()
    kids = []; ksent = 0
    while th.is_alive():
        time.sleep(0.003)
        pid = os.fork()
        if pid == 0:
            # child: use the inherited Sender once, then linger
            try:
                tx.send_timeout(("c", os.getpid()), 2)
                code = 0
            except BaseException:
                code = 3
            time.sleep(0.3)
            os._exit(code)
        kids.append(pid)
    th.join()
    for k in kids:
        _, st = os.waitpid(k, 0)
        ksent += (os.waitstatus_to_exitcode(st) == 0)
    tx.close()
    got = orx.recv_timeout(30)
    p.join(10)
    if p.is_alive(): p.kill(); p.join()
    pm = [v for k, v in got if k == "p"]; cm = [v for k, v in got if k == "c"]
    print(f"parent: {len(pm)}/{N} ordered {pm == list(range(N))}, errors {errors[:3]}; children forked {len(kids)}, children's sends returned {ksent}, received {len(cm)}; slowest parent send {max(slow):.3f}s")
    sys.exit(0 if pm == list(range(N)) and len(cm) == ksent and not errors else 1)
