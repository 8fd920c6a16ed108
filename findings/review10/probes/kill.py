"""SIGKILL producers mid-stream (compiled send path): the consumer sees RecvError once all are
dead; each producer's messages form a gapless prefix, whole (small and large)."""
import os, random, signal, sys, time, multiprocessing as mp
import mpsc, mpsc.process as m

P = int(os.environ.get("P", "3"))
ROUNDS = int(os.environ.get("ROUNDS", "10"))


def producer(p, tx):
    i = 0
    while True:
        if i % 5 == 4:
            tx.send((p, i, bytes([i % 251]) * 70_000))
        else:
            tx.send((p, i, b"s"))
        i += 1


def main():
    ctx = mp.get_context(os.environ.get("START", "spawn"))
    bad = 0
    for r in range(ROUNDS):
        tx, rx = m.channel()
        procs = [ctx.Process(target=producer, args=(p, tx)) for p in range(P)]
        for pr in procs:
            pr.start()
        tx.close()
        nxt = {p: 0 for p in range(P)}
        errs = []
        t0 = time.monotonic()
        killed = False
        kill_at = random.uniform(0.2, 0.8)
        n = 0
        while True:
            if not killed and time.monotonic() - t0 > kill_at:
                for pr in procs:
                    os.kill(pr.pid, signal.SIGKILL)
                killed = True
            try:
                v = rx.recv_timeout(10) if killed else rx.try_recv()
            except mpsc.Empty:
                continue
            except mpsc.RecvError:
                break
            except mpsc.Timeout:
                errs.append("no disconnection seen in 10 s")
                break
            except Exception as e:
                errs.append(repr(e))
                continue
            n += 1
            p, i, body = v
            if i != nxt[p]:
                errs.append(f"producer {p}: got {i}, expected {nxt[p]}")
            nxt[p] = i + 1
            if i % 5 == 4 and body != bytes([i % 251]) * 70_000:
                errs.append(f"torn large {p},{i}")
        for pr in procs:
            pr.join(10)
        rx.close()
        print(f"round {r}: received {n} {dict(nxt)} errors={errs[:4]}")
        bad += bool(errs)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
