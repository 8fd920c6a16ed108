"""The Rust book's second program: a thread sends four strings a second apart, and main
treats the receiver as an iterator, which ends once the sender is gone.

Prints, one line per second:
    Got: hi
    Got: from
    Got: the
    Got: thread

(Set MPSC_EXAMPLE_DELAY to change the pause, e.g. 0 in tests.)
"""

import os
import time

import mpsc

DELAY = float(os.environ.get("MPSC_EXAMPLE_DELAY", "1"))


def main() -> None:
    tx, rx = mpsc.channel()

    def worker(tx: mpsc.Sender[str]) -> None:
        vals = ["hi", "from", "the", "thread"]
        for val in vals:
            tx.send(val)
            time.sleep(DELAY)

    mpsc.spawn(worker, tx)

    for received in rx:  # ends when the thread returns and its Sender is closed
        print(f"Got: {received}")


if __name__ == "__main__":
    main()
