"""A pipeline of processes joined by mpsc.process channels: feeder -> workers -> main.

A feeder process sends the jobs, three worker processes share one job Receiver (each job goes to
exactly one of them), and each sends its results back. Nobody sends "stop": a worker's loop ends
when every job Sender is gone, and main's loop ends when every result Sender is gone, which the
kernel reports even if a process dies. Prints:
    jobs: 1000, results: 1000, sum of squares: 332833500
    every worker finished
"""

import multiprocessing

import mpsc.process


def feed(jobs: mpsc.process.Sender[int], count: int) -> None:
    with jobs:
        for n in range(count):
            jobs.send(n)


def work(jobs: mpsc.process.Receiver[int], results: mpsc.process.Sender[tuple[int, int]]) -> None:
    with jobs, results:
        for n in jobs:  # ends once the feeder's Sender is gone and the jobs are drained
            results.send((n, n * n))


def main() -> None:
    ctx = multiprocessing.get_context("forkserver")
    jobs_tx, jobs_rx = mpsc.process.sync_channel(64)
    results_tx, results_rx = mpsc.process.channel()
    processes = [ctx.Process(target=work, args=(jobs_rx, results_tx)) for _ in range(3)]
    processes.append(ctx.Process(target=feed, args=(jobs_tx, 1000)))
    for process in processes:
        process.start()
    # The children hold their own copies now: main keeps only the results Receiver.
    for handle in (jobs_tx, jobs_rx, results_tx):
        handle.close()
    results = dict(results_rx)
    print(f"jobs: 1000, results: {len(results)}, sum of squares: {sum(results.values())}")
    for process in processes:
        process.join(30)
    if all(process.exitcode == 0 for process in processes):
        print("every worker finished")


if __name__ == "__main__":
    main()
