"""The Rust book's third program: two producers, one made by cloning the Sender.

Prints the eight lines below, the two threads' lines interleaved in an order that varies
from run to run (each thread's own lines stay in order):
    Got: hi
    Got: more
    Got: from
    Got: messages
    Got: for
    Got: the
    Got: thread
    Got: you

(Set MPSC_EXAMPLE_DELAY to change the pause, e.g. 0 in tests.)
"""

import os
import time

import mpsc

DELAY = float(os.environ.get("MPSC_EXAMPLE_DELAY", "1"))


def main() -> None:
    tx, rx = mpsc.channel()

    tx1 = tx.clone()

    def first(tx1: mpsc.Sender[str]) -> None:
        vals = ["hi", "from", "the", "thread"]
        for val in vals:
            tx1.send(val)
            time.sleep(DELAY)

    def second(tx: mpsc.Sender[str]) -> None:
        vals = ["more", "messages", "for", "you"]
        for val in vals:
            tx.send(val)
            time.sleep(DELAY)

    mpsc.spawn(first, tx1)
    mpsc.spawn(second, tx)

    for received in rx:
        print(f"Got: {received}")


if __name__ == "__main__":
    main()
