"""Close / last-clone close / garbage collection of handles racing with sends and receives in
many threads sharing one endpoint, plus a spawned process sending and receiving too.

Promise (Sender.close doc): "The handle's file descriptors are closed with the last clone in this
process (once no call through them is in progress)"; and "A call blocked on this very handle in
another thread raises ClosedHandleError". Every value a send returned for is received exactly
once; per receiver, each sender's values arrive in order.

Per round: S sender threads and R receiver threads in this process, each on its own clone of a
shared pair (ch kinds: unbounded, bounded(8), rendezvous). A chaos thread closes random clones
(the worker then gets ClosedHandleError and takes a fresh clone from a spare kept open), or drops
the worker's only reference through a reference cycle + gc.collect() in another thread. A child
process (spawn) sends its own numbered stream and receives too. Any other exception (OSError,
EBADF, RuntimeError), a hang, a lost / duplicated / reordered value, or an fd count after the
round above the count before, is a defect (exit 1).
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

S, R = 8, 6
PER = int(os.environ.get("PER", "4000"))
CHILD_PER = PER * 2


def child(tx, rx, out):
    gots = []
    stop = threading.Event()

    def recvloop():
        got = []
        gots.append(got)
        while True:
            try:
                v = rx.recv_timeout(0.2)
            except mpsc.Timeout:
                if stop.is_set():
                    return
                continue
            except mpsc.RecvError:
                return
            got.append(v)

    th = [threading.Thread(target=recvloop) for _ in range(2)]
    for t in th:
        t.start()
    for i in range(CHILD_PER):
        tx.send(("child", i))
    tx.close()
    stop.set()
    for t in th:
        t.join()
    rx.close()
    out.send(gots)
    out.close()


def fdcount():
    fds = {}
    for f in os.listdir("/proc/self/fd"):
        try:
            fds[f] = os.readlink(f"/proc/self/fd/{f}")
        except OSError:
            pass
    return fds


def run(kind):
    if kind == "unbounded":
        tx0, rx0 = mpsc.process.channel()
    elif kind == "bounded":
        tx0, rx0 = mpsc.process.sync_channel(8)
    else:
        tx0, rx0 = mpsc.process.sync_channel(0)
    errors = []
    sent = {}
    received = []  # one list per receiver incarnation
    lock = threading.Lock()
    slots = {}  # worker name -> its current clone (the chaos thread closes them)
    done_senders = threading.Event()

    def new(spare, name):
        h = spare.clone()
        with lock:
            slots[name] = h
        return h

    def sender(k):
        name = f"s{k}"
        h = new(tx0, name)
        i = 0
        sent[name] = 0
        while i < PER:
            try:
                h.send((name, i))
                i += 1
                sent[name] = i
            except ClosedHandleError:
                h = new(tx0, name)
            except BaseException as e:
                errors.append(("send", repr(e)))
                return
        with lock:
            slots.pop(name, None)
        h.close()

    def receiver(k):
        name = f"r{k}"
        h = new(rx0, name)
        mine = []
        received.append(mine)
        while True:
            try:
                v = h.recv_timeout(0.3)
                mine.append(v)
            except ClosedHandleError:
                h = new(rx0, name)
                mine = []
                received.append(mine)
            except mpsc.Timeout:
                if done_senders.is_set():
                    break
            except mpsc.RecvError:
                break
            except BaseException as e:
                errors.append(("recv", repr(e)))
                return
        with lock:
            slots.pop(name, None)
        h.close()

    stop_chaos = threading.Event()
    chaos_n = [0, 0]

    def chaos():
        rnd = random.Random(1)
        while not stop_chaos.is_set():
            time.sleep(rnd.random() * 0.004)
            with lock:
                if not slots:
                    continue
                name = rnd.choice(list(slots))
                h = slots[name]
            if rnd.random() < 0.7:
                h.close()
                chaos_n[0] += 1
            else:
                # the worker still holds it: close via a cycle the collector frees elsewhere
                h.close()
                cyc = [h]
                cyc.append(cyc)
                del cyc, h
                gc.collect()
                chaos_n[1] += 1

    ctx = mp.get_context("spawn")
    a, b = ctx.Pipe(duplex=False)
    p = ctx.Process(target=child, args=(tx0, rx0, b))
    p.start()
    b.close()
    ths = [threading.Thread(target=sender, args=(k,)) for k in range(S)]
    rths = [threading.Thread(target=receiver, args=(k,)) for k in range(R)]
    ch = threading.Thread(target=chaos)
    for t in ths + rths + [ch]:
        t.start()
    for t in ths:
        t.join(120)
    child_got = a.recv() if a.poll(120) else None
    a.close()
    p.join(30)
    done_senders.set()
    tx0.close()
    for t in rths:
        t.join(60)
    stop_chaos.set()
    ch.join(10)
    rx0.close()
    hung = [t.name for t in ths + rths + [ch] if t.is_alive()] + (["child"] if p.is_alive() else [])
    if not p.is_alive():
        p.close()  # (its sentinel pipe)
    if child_got is None:
        hung.append("child result")
        child_got = []
    streams = received + child_got
    allv = [v for m in streams for v in m]
    expected = {(n, i) for n, c in sent.items() for i in range(c)} | {("child", i) for i in range(CHILD_PER)}
    counts = {}
    for v in allv:
        counts[v] = counts.get(v, 0) + 1
    dup = sum(1 for c in counts.values() if c > 1)
    lost = len(expected - set(counts))
    extra = len(set(counts) - expected)
    disorder = 0
    for m in streams:
        last = {}
        for n, i in m:
            if last.get(n, -1) >= i:
                disorder += 1
            last[n] = i
    print(
        f"{kind}: sent={sum(sent.values()) + CHILD_PER} received={len(allv)} dup={dup} lost={lost} "
        f"extra={extra} disorder={disorder} closes={chaos_n[0]} cycle-drops={chaos_n[1]} "
        f"errors={errors[:3]} ({len(errors)}) hung={hung}"
    )
    return not (dup or lost or extra or disorder or errors or hung)


def main():
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()  # (its pipe stays open for good: not ours to count)
    gc.collect()
    before = fdcount()
    ok = True
    for kind in ("unbounded", "bounded", "rendezvous"):
        ok &= run(kind)
    gc.collect()
    time.sleep(0.3)
    gc.collect()
    after = fdcount()
    new = {k: v for k, v in after.items() if before.get(k) != v}
    print(f"fds before={len(before)} after={len(after)} new={new}")
    ok &= not new
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
