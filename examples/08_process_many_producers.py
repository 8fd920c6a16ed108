"""The Rust book's third program with processes: two producer processes, one given a clone of
the Sender.

Prints the eight lines below, the two processes' lines interleaved in an order that varies
from run to run (each process's own lines stay in order):
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

import multiprocessing
import os
import time

import mpsc.process

DELAY = float(os.environ.get("MPSC_EXAMPLE_DELAY", "1"))


def produce(tx: mpsc.process.Sender[str], vals: list[str]) -> None:
    with tx:
        for val in vals:
            tx.send(val)
            time.sleep(DELAY)


def main() -> None:
    tx, rx = mpsc.process.channel()

    tx1 = tx.clone()
    first = multiprocessing.Process(target=produce, args=(tx1, ["hi", "from", "the", "thread"]))
    second = multiprocessing.Process(target=produce, args=(tx, ["more", "messages", "for", "you"]))
    first.start()
    second.start()
    tx1.close()  # each child holds its own Sender; main keeps none, or the loop would never end
    tx.close()

    for received in rx:
        print(f"Got: {received}")
    first.join()
    second.join()


if __name__ == "__main__":
    main()
