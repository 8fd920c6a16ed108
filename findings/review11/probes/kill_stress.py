"""Probe: SIGKILL producers/consumers of a bounded channel at random instants; after each round,
drain and check capacity exact (try_send until Full == cap) and no duplicates."""
import os, random, signal, sys, time
import mpsc, mpsc.process as mp

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 30
CAP = int(sys.argv[2]) if len(sys.argv) > 2 else 3
random.seed(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
bad = 0
for r in range(ROUNDS):
    tx, rx = mp.sync_channel(CAP)
    rep_r, rep_w = os.pipe()
    kids = []
    for k in range(3):  # producers
        pid = os.fork()
        if pid == 0:
            try:
                i = 0
                if os.environ.get("ASYNC"):
                    import asyncio
                    async def go():
                        j = 0
                        while True:
                            t = asyncio.ensure_future(tx.send_async((k, j)))
                            await asyncio.sleep(0) if random.random() < 0.5 else None
                            t.cancel()
                            try:
                                await t
                            except asyncio.CancelledError:
                                pass
                            j += 1
                    asyncio.run(go())
                while True:
                    tx.send((k, i)); i += 1
            finally:
                os._exit(0)
        kids.append(pid)
    for k in range(2):  # consumers
        pid = os.fork()
        if pid == 0:
            try:
                if os.environ.get("ASYNC"):
                    import asyncio
                    async def go():
                        async for v in rx:
                            os.write(rep_w, repr(v).encode().ljust(32))
                            if random.random() < 0.3:
                                t = asyncio.ensure_future(rx.recv_async())
                                await asyncio.sleep(0)
                                t.cancel()
                                try:
                                    v = await t
                                    os.write(rep_w, repr(v).encode().ljust(32))
                                except asyncio.CancelledError:
                                    pass
                    asyncio.run(go())
                while True:
                    v = rx.recv()
                    os.write(rep_w, repr(v).encode().ljust(32))
            finally:
                os._exit(0)
        kids.append(pid)
    os.close(rep_w)
    time.sleep(random.uniform(0.005, 0.05))
    random.shuffle(kids)
    for pid in kids:
        time.sleep(random.uniform(0, 0.003))
        os.kill(pid, signal.SIGKILL)
    for pid in kids:
        os.waitpid(pid, 0)
    data = b""
    while True:
        chunk = os.read(rep_r, 65536)
        if not chunk: break
        data += chunk
    os.close(rep_r)
    got = [data[i:i+32].strip() for i in range(0, len(data), 32)]
    while True:
        try:
            got.append(repr(rx.try_recv()).encode())
        except mpsc.Empty:
            break
    dups = len(got) - len(set(got))
    # capacity: len should be 0 after drain, then exactly CAP try_sends
    n0 = len(rx)
    sent = 0
    while sent < CAP + 2:
        try:
            tx.try_send(("x", sent)); sent += 1
        except mpsc.Full:
            break
    n1 = len(rx)
    if dups or n0 != 0 or sent != CAP or n1 != CAP:
        bad += 1
        print(f"round {r}: msgs={len(got)} dups={dups} len_after_drain={n0} try_sends={sent} len_full={n1}", flush=True)
    tx.close(); rx.close()
print(f"rounds={ROUNDS} bad={bad} pure={os.environ.get('MPSC_PURE')}")
sys.exit(1 if bad else 0)
