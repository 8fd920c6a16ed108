"""A bounded channel loses a slot for good whenever a receiving process is SIGKILLed between
taking a message and giving its credit back. The docs call that window "microseconds", which
reads as rare, but a receiver draining a busy channel spends a large share of its time there:
here, forked receivers of bounded(4) are each SIGKILLed after 0-20 ms (a pool recycling
workers, the OOM killer, a supervisor's kill). After 40 kills the channel is usually wedged:
empty, yet len() == 4 and every send waits (Full/Timeout) for ever. Exits 1 while slots are lost.
"""
import sys, time, random, threading, multiprocessing as mp
import mpsc, mpsc.process as mpp

CAP = 4
KILLS = 40

def receiver(rx):
    while True:
        try:
            rx.recv_timeout(5)
        except mpsc.Timeout:
            pass

if __name__ == "__main__":
    random.seed(1)
    tx, rx = mpp.sync_channel(CAP)
    ctx = mp.get_context("fork")
    stop = threading.Event()
    sent = [0]

    def sender():
        while not stop.is_set():
            try:
                tx.send_timeout(b"x" * 10, 0.05)
                sent[0] += 1
            except mpsc.Timeout:
                pass

    th = threading.Thread(target=sender)
    th.start()
    lost_after = []
    for k in range(KILLS):
        p = ctx.Process(target=receiver, args=(rx,))
        p.start()
        time.sleep(random.random() * 0.02)
        p.kill()
        p.join()
    stop.set()
    th.join(5)
    queued = len(list(rx.try_iter()))  # the parent's own Receiver drains what is left
    wedged_len = len(rx)  # nothing is queued now
    usable = 0
    for i in range(CAP + 1):
        try:
            tx.try_send(i)
            usable += 1
        except mpsc.Full:
            break
    leftover = list(rx.try_iter())
    print(f"{KILLS} receivers SIGKILLed while {sent[0]} sends went through bounded({CAP}); "
          f"then drained {queued}. The empty channel says len() == {wedged_len} and takes "
          f"{usable} of {CAP} sends: {CAP - usable} slot(s) lost for good")
    tx.close(); rx.close()
    sys.exit(0 if usable == CAP else 1)
