"""Closing every clone of a side (the last close closes the fds) while many threads are inside
sends and receives on those clones.

Promise (Sender.close doc): "The handle's file descriptors are closed with the last clone in
this process (once no call through them is in progress)" and "A call blocked on this very handle
in another thread raises ClosedHandleError". Under the GIL b7c96b5 enters/leaves without the
lock (src/mpsc/process/_gil.py); a lost count would close the fds under a thread inside.

Per round: 12 sender threads on clones of one Sender and 8 receiver threads on clones of one
Receiver in this process; a spawned child holds another Receiver (and drains after the round).
At a random moment the main thread closes every Sender clone here, then every Receiver clone.
Workers may only see ClosedHandleError (or SendError/RecvError at the end); values whose send
returned = values received here + values the child drained, each once. Any other exception
(EBADF...), a hang, a loss/dup, or an fd left open is a defect (exit 1).
"""

import gc
import multiprocessing as mp
import os
import random
import sys
import threading
import time

import mpsc
import mpsc.process
from mpsc import ClosedHandleError

ROUNDS = int(os.environ.get("ROUNDS", "30"))


def drain(rx, out):
    got = []
    while True:
        try:
            got.append(rx.recv_timeout(60))
        except (mpsc.RecvError, mpsc.Timeout):
            break
    rx.close()
    out.send(got)
    out.close()


def fds():
    return sorted(os.listdir("/proc/self/fd"))


def one(kind, seed, ctx):
    rnd = random.Random(seed)
    tx, rx = mpsc.process.channel() if kind == "unbounded" else mpsc.process.sync_channel(64)
    a, b = ctx.Pipe(duplex=False)
    p = ctx.Process(target=drain, args=(rx.clone(), b))
    p.start()
    b.close()
    txs = [tx.clone() for _ in range(12)]
    rxs = [rx.clone() for _ in range(8)]
    errors, sent, got = [], [], []

    def send(k, h):
        i = 0
        while True:
            try:
                h.send((k, i))
                sent.append((k, i))
                i += 1
            except ClosedHandleError:
                return
            except BaseException as e:
                errors.append(repr(e))
                return

    def recv(h):
        while True:
            try:
                got.append(h.recv_timeout(0.05))
            except mpsc.Timeout:
                continue
            except (ClosedHandleError, mpsc.RecvError):
                return
            except BaseException as e:
                errors.append(repr(e))
                return

    ths = [threading.Thread(target=send, args=(k, h)) for k, h in enumerate(txs)]
    ths += [threading.Thread(target=recv, args=(h,)) for h in rxs]
    for t in ths:
        t.start()
    time.sleep(rnd.random() * 0.05)
    for h in [tx, *txs]:
        h.close()
    time.sleep(rnd.random() * 0.01)
    for h in [rx, *rxs]:
        h.close()
    for t in ths:
        t.join(30)
    hung = sum(t.is_alive() for t in ths)
    child = a.recv() if a.poll(90) else None
    a.close()
    p.join(10)
    if not p.is_alive():
        p.close()
    else:
        hung += 1
    if child is None:
        return len(sent), 0, ["child gave no result"], hung
    allv = got + child
    bad = []
    if len(allv) != len(set(allv)):
        bad.append(f"dup {len(allv) - len(set(allv))}")
    if set(allv) != set(sent):
        bad.append(f"lost {len(set(sent) - set(allv))} extra {len(set(allv) - set(sent))}")
    return len(sent), len(allv), errors[:3] + bad, hung


def main():
    from multiprocessing import resource_tracker

    ctx = mp.get_context("spawn")
    resource_tracker.ensure_running()
    gc.collect()
    before = fds()
    tot_s = tot_r = 0
    ok = True
    for r in range(ROUNDS):
        kind = "unbounded" if r % 2 else "bounded"
        s, g, errs, hung = one(kind, r, ctx)
        tot_s += s
        tot_r += g
        if errs or hung:
            ok = False
            print(f"round {r} {kind}: sent={s} received={g} errors={errs} hung={hung}")
    gc.collect()
    time.sleep(0.2)
    after = fds()
    leaked = sorted(set(after) - set(before))
    print(f"rounds={ROUNDS} sent={tot_s} received={tot_r} fds before={len(before)} after={len(after)} leaked={leaked}")
    return 0 if ok and not leaked else 1


if __name__ == "__main__":
    sys.exit(main())
