"""The Rust book's first channel program: a thread sends one string, main receives it.

Prints:
    Got: hi
"""

import mpsc


def main() -> None:
    tx, rx = mpsc.channel()

    def worker(tx: mpsc.Sender[str]) -> None:
        val = "hi"
        tx.send(val)

    mpsc.spawn(worker, tx)  # tx is moved into the thread, as `move ||` does

    received = rx.recv()
    print(f"Got: {received}")


if __name__ == "__main__":
    main()
