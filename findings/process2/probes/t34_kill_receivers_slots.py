import os, sys, time, random, signal, threading, multiprocessing as mp
import mpsc, mpsc.process as mpp
CAP = 4
SIZE = int(sys.argv[1]) if len(sys.argv) > 1 else 10
def rcv(rx):
    while True:
        try: rx.recv_timeout(5)
        except mpsc.Timeout: pass
if __name__ == "__main__":
    tx, rx = mpp.sync_channel(CAP)
    ctx = mp.get_context("fork")
    stop = threading.Event(); sent = [0]
    def snd():
        while not stop.is_set():
            try: tx.send_timeout(b"x" * SIZE, 0.05); sent[0] += 1
            except mpsc.Timeout: pass
    th = threading.Thread(target=snd); th.start()
    kills = 0
    for i in range(40):
        p = ctx.Process(target=rcv, args=(rx,)); p.start()
        time.sleep(random.random() * 0.02)
        p.kill(); p.join(); kills += 1
    stop.set(); th.join()
    drained = len(list(rx.try_iter()))
    ok = 0
    for i in range(CAP + 1):
        try: tx.try_send(i); ok += 1
        except mpsc.Full: break
    print(f"{kills} receivers SIGKILLed mid-flow ({sent[0]} sends): afterwards {ok} of {CAP} slots usable, len {len(rx)}")
    sys.exit(0 if ok == CAP else 1)
