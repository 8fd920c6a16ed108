"""A worker loop that selects over a job channel, a quit channel and a ticker.

The worker takes jobs as they come, reports progress on every tick, and stops when told to
quit, or when every job sender is gone. Prints, for example:
    did job 0
    did job 1
    ...
    tick: 5 jobs done so far
    ...
    quit: 20 jobs done
"""

import os

import mpsc

PERIOD = float(os.environ.get("MPSC_EXAMPLE_DELAY", "0.05"))


def worker(jobs: mpsc.Receiver[int], quit: mpsc.Receiver[None], results: mpsc.Sender[int]) -> int:
    ticker = mpsc.tick(PERIOD)
    done = 0
    while True:
        try:
            index, value = mpsc.select(jobs, quit, ticker)
        except mpsc.RecvError as gone:  # jobs (index 0) or quit (index 1) disconnected
            print(f"channel {gone.index} closed: {done} jobs done")
            return done
        if index == 0:
            results.send(value * value)
            done += 1
        elif index == 1:
            print(f"quit: {done} jobs done")
            return done
        else:
            print(f"tick: {done} jobs done so far")


def main() -> None:
    jobs_tx, jobs_rx = mpsc.bounded(4)
    quit_tx, quit_rx = mpsc.bounded(0)
    results_tx, results_rx = mpsc.channel()
    handle = mpsc.spawn(worker, jobs_rx, quit_rx, results_tx)

    for n in range(20):
        jobs_tx.send(n)
        print(f"did job {n}: {results_rx.recv()}")
        if n % 4 == 3:
            mpsc.after(PERIOD).recv()  # pause so that the ticker gets a word in
    quit_tx.send(None)  # a rendezvous: returns once the worker has taken it
    assert handle.join() == 20


if __name__ == "__main__":
    main()
