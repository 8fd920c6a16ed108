import os, sys, signal, time, multiprocessing as mp
import trio, asyncio, mpsc, mpsc.process as mpp
MPSC = os.path.dirname(mpsc.__file__)
class Boom(Exception): pass
N = 5000
def child(tx):
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    for i in range(N): tx.send_timeout(i, 30)
    tx.close()
state = {"armed": False}
def h(sig, frame):
    if state["armed"] and frame is not None and frame.f_code.co_filename.startswith(MPSC):
        raise Boom()

async def recv_loop(rx, got, counts):
    done = False
    while not done:
        try:
            t0 = time.monotonic()
            while time.monotonic() - t0 < 15:
                state["armed"] = True
                v = await rx.recv_async()
                got.append(v)
            done = True
        except Boom:
            counts[0] += 1
        except mpsc.RecvError:
            done = True
    state["armed"] = False

async def send_loop(tx, n, sent, counts):
    i = 0
    while i < n:
        try:
            while i < n:
                state["armed"] = True
                await tx.send_async(i)
                i += 1; sent.append(i - 1)
        except Boom:
            counts[0] += 1
    state["armed"] = False

async def main(cap, direction):
    if direction == "recv":
        tx, rx = mpp.channel() if cap is None else mpp.sync_channel(cap)
        p = mp.get_context("spawn").Process(target=child, args=(tx,)); p.start(); tx.close()
        got = []; counts = [0]
        signal.setitimer(signal.ITIMER_REAL, 0.0003, 0.0003)
        try:
            await recv_loop(rx, got, counts)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0, 0); state["armed"] = False
        p.join(10)
        if p.is_alive(): p.kill(); p.join()
        rx.close()
        missing = len(set(range(N)) - set(got)); dups = len(got) - len(set(got))
        if missing: print("missing values", sorted(set(range(N)) - set(got))[:5], "child exit", p.exitcode)
        print(f"asyncio recv_async cap={cap}: {len(got)}/{N}, missing {missing}, dups {dups}, interrupts {counts[0]}")
        return missing == 0 and dups == 0
    else:
        tx, rx = mpp.channel() if cap is None else mpp.sync_channel(cap)
        got = []; sent = []; counts = [0]
        async def drain():
            while True:
                try:
                    while True:
                        try:
                            got.append(await rx.recv_async())
                        except mpsc.RecvError:
                            return
                except Boom:
                    counts[0] += 1
        signal.setitimer(signal.ITIMER_REAL, 0.0003, 0.0003)
        try:
            d = asyncio.create_task(drain())
            await send_loop(tx, 3000, sent, counts)
            tx.close()
            await d
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0, 0); state["armed"] = False
        rx.close()
        print(f"asyncio send_async cap={cap}: sent {len(sent)}, received {len(got)}, dups {len(got)-len(set(got))}, interrupts {counts[0]}")
        return sorted(got) == sent

if __name__ == "__main__":
    sys.unraisablehook = lambda *a: None
    signal.signal(signal.SIGALRM, h)
    ok = True
    caps = [int(a) if a != "None" else None for a in sys.argv[1:]] or [None, 4, 0]
    for cap in caps:
        ok &= asyncio.run(main(cap, "recv"))
    for cap in (caps if len(sys.argv) == 1 else []):
        ok &= asyncio.run(main(cap, "send"))
    sys.exit(0 if ok else 1)
