"""Probe: asyncio tasks cancelled at random around send_async/recv_async/async for, counting
every message. A forked child is the other side half the time."""
import asyncio, os, random, sys, time
import mpsc, mpsc.process as mp

CAP = None if sys.argv[1] == "none" else int(sys.argv[1])
N = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
random.seed(int(sys.argv[3]) if len(sys.argv) > 3 else 0)
MODE = sys.argv[4] if len(sys.argv) > 4 else "local"  # local | childrecv | childsend
PAD = b"p" * int(os.environ.get("PAD", "0"))

def chan():
    return mp.channel() if CAP is None else mp.sync_channel(CAP)

async def main():
    tx, rx = chan()
    sent, got = [], []
    nxt = [0]
    child = None
    if MODE == "childrecv":
        rep_r, rep_w = os.pipe()
        child = os.fork()
        if child == 0:
            try:
                mp.release_inherited(rx)
                out = os.fdopen(rep_w, "w")
                for v in rx:
                    out.write(f"{v[0] if isinstance(v, tuple) else v}\n")
                out.close()
            finally:
                os._exit(0)
        os.close(rep_w)
        rx.close()
    if MODE == "childsend":
        child = os.fork()
        if child == 0:
            try:
                mp.release_inherited(tx)
                for i in range(N):
                    tx.send(i)
            finally:
                os._exit(0)
        tx.close()
        sent = list(range(N))

    async def producer():
        while nxt[0] < N:
            v = nxt[0]; nxt[0] = v + 1
            await tx.send_async((v, PAD) if PAD else v)
            sent.append(v)
    async def consumer():
        while True:
            v = await rx.recv_async()
            got.append(v[0] if isinstance(v, tuple) else v)
    async def iterer():
        async for v in rx:
            got.append(v[0] if isinstance(v, tuple) else v)

    kinds = []
    if MODE != "childsend": kinds += [producer, producer]
    if MODE != "childrecv": kinds += [consumer, iterer]
    tasks = {asyncio.create_task(k()): k for k in kinds}
    cancels = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        await asyncio.sleep(random.uniform(0, 0.0005))
        if MODE != "childsend" and nxt[0] >= N: break
        if MODE == "childsend" and len(got) >= N: break
        t = random.choice(list(tasks))
        if random.random() < 0.5:
            # cancel right after it was scheduled to run too
            pass
        t.cancel(); cancels += 1
        k = tasks.pop(t)
        try:
            await t
        except asyncio.CancelledError:
            pass
        except mpsc.RecvError:
            pass
        tasks[asyncio.create_task(k())] = k
    for t in tasks: t.cancel()
    for t in list(tasks):
        try: await t
        except (asyncio.CancelledError, mpsc.RecvError): pass
    if MODE == "childrecv":
        tx.close()
        data = b""
        while True:
            c = os.read(rep_r, 65536)
            if not c: break
            data += c
        got = [int(x) for x in data.split()]
    else:
        while True:
            try: w = rx.try_recv(); got.append(w[0] if isinstance(w, tuple) else w)
            except (mpsc.Empty, mpsc.RecvError): break
    if child: os.waitpid(child, 0)
    lost = sorted(set(sent) - set(got)); extra = sorted(set(got) - set(sent))
    dups = len(got) - len(set(got))
    capok = True
    if CAP is not None and MODE == "local":
        n0 = len(rx); k = 0
        while k < CAP + 2:
            try: tx.try_send(k); k += 1
            except mpsc.Full: break
        capok = n0 == 0 and k == CAP
    print(f"cap={CAP} mode={MODE} pure={os.environ.get('MPSC_PURE')} cancels={cancels} sent={len(sent)} got={len(got)} lost={lost[:10]} extra={extra[:10]} dups={dups} capok={capok}")
    return bool(lost or extra or dups or not capok)
sys.exit(1 if asyncio.run(main()) else 0)
