"""asyncio: recv_async from a child process, bounded(4), while a SIGALRM handler raises every
0.3 ms (only when the interrupted frame is mpsc's own code, as Ctrl-C or any handler's exception
would land). Every message must be received exactly once: the call either did not happen or
returns its value (the exception after it). About one run in ten loses one message (the child
sent all 5 000; the parent never gets one of them). The script repeats the run for up to 45 s
and exits 1 at the first loss, printing where the interrupts around it surfaced.
"""
import os, sys, signal, time, traceback, asyncio, multiprocessing as mp
import mpsc, mpsc.process as mpp

MPSC = os.path.dirname(mpsc.__file__)
N = 5000

class Boom(Exception):
    pass

state = {"armed": False}

def handler(sig, frame):
    if state["armed"] and frame is not None and frame.f_code.co_filename.startswith(MPSC):
        raise Boom()

def child(tx):
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    for i in range(N):
        tx.send_timeout(i, 30)
    tx.close()

def where(exc):
    frames = traceback.extract_tb(exc.__traceback__)
    return " <- ".join(f"{os.path.basename(f.filename)}:{f.name}:{f.lineno}" for f in frames[-3:][::-1])

async def receive_all(rx, got, booms):
    done = False
    while not done:
        try:
            t0 = time.monotonic()
            while time.monotonic() - t0 < 15:
                state["armed"] = True
                v = await rx.recv_async()
                got.append(v)
            done = True
        except Boom as exc:
            booms.append((got[-1] if got else None, where(exc)))
        except mpsc.RecvError:
            done = True
    state["armed"] = False

async def one_run(cap):
    tx, rx = mpp.sync_channel(cap)
    p = mp.get_context("spawn").Process(target=child, args=(tx,))
    p.start()
    tx.close()
    got, booms = [], []
    signal.setitimer(signal.ITIMER_REAL, 0.0003, 0.0003)
    try:
        await receive_all(rx, got, booms)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0, 0)
        state["armed"] = False
    p.join(10)
    if p.is_alive():
        p.kill(); p.join()
    rx.close()
    return got, booms, p.exitcode

def main():
    sys.unraisablehook = lambda *a: None
    signal.signal(signal.SIGALRM, handler)
    loop_errors = []
    start = time.monotonic()
    runs = 0
    while time.monotonic() - start < 45:
        runs += 1
        got, booms, code = asyncio.run(one_run(4))
        missing = sorted(set(range(N)) - set(got))
        dups = len(got) - len(set(got))
        print(f"run {runs}: received {len(got)}/{N}, missing {missing[:5]}, duplicates {dups}, "
              f"interrupts {len(booms)}, child exit code {code}", flush=True)
        if missing or dups:
            for m in missing[:3]:
                near = [w for last, w in booms if last is not None and m - 2 <= last <= m]
                print(f"  interrupts caught right before/after {m - 1} was received:")
                for w in near[:6]:
                    print("    ", w)
            return False
    return True

if __name__ == "__main__":
    sys.exit(0 if main() else 1)
