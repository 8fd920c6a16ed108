"""The Rust book's first channel program with a process instead of a thread: a child process
sends one string, main receives it.

Prints:
    Got: hi
"""

import multiprocessing

import mpsc.process


def worker(tx: mpsc.process.Sender[str]) -> None:
    with tx:
        val = "hi"
        tx.send(val)


def main() -> None:
    tx, rx = mpsc.process.channel()
    child = multiprocessing.Process(target=worker, args=(tx,))
    child.start()
    tx.close()  # the child holds its own Sender now: as `move ||` moves it into the thread

    received = rx.recv()
    print(f"Got: {received}")
    child.join()


if __name__ == "__main__":
    main()
