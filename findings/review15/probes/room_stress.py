"""Probe: many sender processes blocked on a full ring; one receiver drains the ring to empty in
bursts, then pauses (PAUSE). A blocked send should wake within about PAUSE + a drain; a send
that waited >= SLICE-ish (80 ms) with the ring drained meanwhile lost its ROOM."""
import os, sys, time, multiprocessing as mp
import mpsc, mpsc.process

SENDERS = int(os.environ.get("SENDERS", 6))
PER = int(os.environ.get("PER", 20000))
PAUSE = float(os.environ.get("PAUSE", 0.02))
RUN = float(os.environ.get("RUN", 8))

def sender(tx, out, idx):
    from mpsc.process import _handles
    real = _handles.wait_ready
    lost = [0]
    def watched(fds, deadline):
        t0 = time.monotonic()
        r = real(fds, deadline)
        if not r and time.monotonic() - t0 >= 0.09 and fds:
            lost.append(1)
            ring = tx._ep.ring
            try:
                if ring.room():
                    lost[0] += 1  # a whole slice asleep, and the ring is at most half full
            except TimeoutError:
                pass
        return r
    _handles.wait_ready = watched
    worst, slow, n = 0.0, 0, 0
    end = time.monotonic() + RUN
    payload = "x" * 20
    while time.monotonic() < end:
        t0 = time.monotonic()
        tx.send((idx, n, payload))
        d = time.monotonic() - t0
        n += 1
        worst = max(worst, d)
        if d >= 0.08:
            slow += 1
    out.send((idx, n, worst, slow, lost[0], len(lost) - 1))
    tx.close(); out.close()

def main():
    ctx = mp.get_context("fork")
    tx, rx = mpsc.process.channel()
    otx, orx = mpsc.process.channel()
    ps = [ctx.Process(target=sender, args=(tx, otx, i)) for i in range(SENDERS)]
    for p in ps: p.start()
    tx.close(); otx.close()
    last = {}
    got = 0
    bad_order = 0
    t_end = time.monotonic() + RUN + 5
    while time.monotonic() < t_end:
        # drain to empty
        while True:
            try:
                idx, n, _ = rx.try_recv()
            except mpsc.Empty:
                break
            except mpsc.RecvError:
                t_end = 0; break
            if last.get(idx, -1) + 1 != n: bad_order += 1
            last[idx] = n
            got += 1
        time.sleep(PAUSE)
    for p in ps: p.join(10)
    res = [orx.recv_timeout(2) for _ in range(SENDERS)]
    slow = sum(r[3] for r in res)
    sent = sum(r[1] for r in res)
    lost = sum(r[4] for r in res)
    print(f"slices slept through with room: {lost}")
    print(f"sent {sent} got {got} order errors {bad_order}; worst send {max(r[2] for r in res)*1000:.1f} ms; sends >= 80 ms: {slow}")
    for r in res: print("  sender", r)
    return 1 if slow or bad_order or sent != got else 0

if __name__ == "__main__":
    sys.exit(main())
