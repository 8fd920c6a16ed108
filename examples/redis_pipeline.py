"""The pipeline of process_pipeline.py, through a Redis server: feeder -> workers -> main.

The same code as between processes on one machine, but the channels live on a Redis server, so
the feeder, the workers and main could each run on a machine of its own. The handles travel to
the child processes pickled (the URL and the channel's name go with them; a password would not).
Nobody sends "stop": a worker's loop ends when every job Sender is gone, and main's loop ends
when every result Sender is gone (a process that dies without closing its handles counts as gone
once its lease expires, 1.5 s by default).

It uses the server at $MPSC_REDIS_URL, or else starts a throwaway redis-server of its own on a
free loopback port (`make redis-server` installs Debian's package). Prints:
    jobs: 1000, results: 1000, sum of squares: 332833500
    every worker finished
"""

import multiprocessing
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

import mpsc.redis


def feed(jobs: mpsc.redis.Sender[int], count: int) -> None:
    with jobs:
        jobs.send_many(range(count))  # one round trip per 100 messages, not one each


def work(jobs: mpsc.redis.Receiver[int], results: mpsc.redis.Sender[tuple[int, int]]) -> None:
    with jobs, results:
        for n in jobs:  # ends once the feeder's Sender is gone and the jobs are drained
            results.send((n, n * n))


def main(url: str) -> None:
    ctx = multiprocessing.get_context("forkserver")
    jobs_tx, jobs_rx = mpsc.redis.bounded(url, 64)
    results_tx, results_rx = mpsc.redis.channel(url)
    processes = [ctx.Process(target=work, args=(jobs_rx, results_tx)) for _ in range(3)]
    processes.append(ctx.Process(target=feed, args=(jobs_tx, 1000)))
    for process in processes:
        process.start()
    # The children hold their own handles now (each took over the lease its pickle carried):
    # main keeps only the results Receiver.
    for handle in (jobs_tx, jobs_rx, results_tx):
        handle.close()
    with results_rx:
        results = dict(results_rx)
    print(f"jobs: 1000, results: {len(results)}, sum of squares: {sum(results.values())}")
    for process in processes:
        process.join(30)
    if all(process.exitcode == 0 for process in processes):
        print("every worker finished")


@contextmanager
def a_server() -> Iterator[str]:
    """$MPSC_REDIS_URL, or a redis-server of this program's own, killed at the end."""
    if "MPSC_REDIS_URL" in os.environ:
        yield os.environ["MPSC_REDIS_URL"]
        return
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("no redis-server on PATH and no MPSC_REDIS_URL: `make redis-server` installs one")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as scratch:
        args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", scratch, "--save", ""]
        server = subprocess.Popen(args, stdout=subprocess.DEVNULL)
        try:
            url = f"redis://127.0.0.1:{port}/0"
            deadline = time.monotonic() + 10
            while True:  # until it accepts connections
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.02)
            yield url
        finally:
            server.kill()
            server.wait(10)


if __name__ == "__main__":
    with a_server() as server_url:
        main(server_url)
