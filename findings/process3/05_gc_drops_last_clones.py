"""Handles released only by the garbage collector (reference cycles, no close()) while other
threads are inside sends on clones of the same endpoint; the last one collected closes the fds.

Promise (mpsc.process doc): "the same ownership rules: close(), with, clone(), release by the
garbage collector"; Sender.close: fds closed "with the last clone in this process (once no call
through them is in progress)"; receivers "get RecvError once every Sender anywhere is gone".

Per round: the original Sender goes into a cycle and is dropped at once; 8 threads each send M
values on their own clone, which is also only in a cycle, then drop it; a thread runs
gc.collect() in a loop. The receiver must get exactly 8*M values, in per-sender order, then
RecvError (no hang); no sender may see anything but success; fds back to the baseline. Exit 1 on
any defect.
"""

import gc
import os
import sys
import threading
import time

import mpsc
import mpsc.process

ROUNDS = int(os.environ.get("ROUNDS", "20"))
M = int(os.environ.get("M", "1500"))


def one():
    tx, rx = mpsc.process.channel()
    clones = [tx.clone() for _ in range(8)]
    cyc = [tx]
    cyc.append(cyc)
    del tx, cyc
    errors = []
    stop = threading.Event()

    def sender(k, h):
        c = [h]
        c.append(c)
        try:
            for i in range(M):
                h.send((k, i))
        except BaseException as e:
            errors.append(repr(e))
        del h, c

    def collector():
        while not stop.is_set():
            gc.collect()
            time.sleep(0.001)

    ths = [threading.Thread(target=sender, args=(k, clones[k])) for k in range(8)]
    del clones
    col = threading.Thread(target=collector)
    col.start()
    for t in ths:
        t.start()
    del t
    got, last, disorder = 0, {}, 0
    end = "hang"
    t0 = time.monotonic()
    while time.monotonic() - t0 < 30:
        try:
            k, i = rx.recv_timeout(1)
        except mpsc.Timeout:
            continue
        except mpsc.RecvError:
            end = "RecvError"
            break
        got += 1
        if last.get(k, -1) + 1 != i:
            disorder += 1
        last[k] = i
    for th in ths:
        th.join(10)
    stop.set()
    col.join(10)
    rx.close()
    return got, disorder, end, errors


def main():
    gc.collect()
    before = sorted(os.listdir("/proc/self/fd"))
    bad = 0
    total = 0
    for r in range(ROUNDS):
        got, disorder, end, errors = one()
        total += got
        if got != 8 * M or disorder or end != "RecvError" or errors:
            bad += 1
            print(f"round {r}: got={got}/{8 * M} disorder={disorder} end={end} errors={errors[:3]}")
    gc.collect()
    time.sleep(0.2)
    after = sorted(os.listdir("/proc/self/fd"))
    leaked = sorted(set(after) - set(before))
    print(f"rounds={ROUNDS} received={total}/{ROUNDS * 8 * M} bad rounds={bad} fds before={len(before)} after={len(after)} leaked={leaked}")
    return 1 if bad or leaked else 0


if __name__ == "__main__":
    sys.exit(main())
