"""The Rust book's second program with a process: a child process sends four strings a second
apart, and main treats the receiver as an iterator, which ends once the child's Sender is gone
(closed, or its process ended or was killed: the kernel tells).

Prints, one line per second:
    Got: hi
    Got: from
    Got: the
    Got: thread

(Set MPSC_EXAMPLE_DELAY to change the pause, e.g. 0 in tests.)
"""

import multiprocessing
import os
import time

import mpsc.process

DELAY = float(os.environ.get("MPSC_EXAMPLE_DELAY", "1"))


def worker(tx: mpsc.process.Sender[str]) -> None:
    vals = ["hi", "from", "the", "thread"]
    for val in vals:
        tx.send(val)
        time.sleep(DELAY)


def main() -> None:
    tx, rx = mpsc.process.channel()
    child = multiprocessing.Process(target=worker, args=(tx,))
    child.start()
    tx.close()

    for received in rx:  # ends when the child exits and with it its Sender
        print(f"Got: {received}")
    child.join()


if __name__ == "__main__":
    main()
