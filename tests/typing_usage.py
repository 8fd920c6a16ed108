"""Checked by ``mypy --strict`` (see pyproject.toml): generic types flow through the API."""

from __future__ import annotations

import mpsc


def producer(tx: mpsc.Sender[int]) -> None:
    with tx:
        for i in range(3):
            tx.send(i)


def total() -> int:
    tx: mpsc.Sender[int]
    rx: mpsc.Receiver[int]
    tx, rx = mpsc.channel()
    handle: mpsc.JoinHandle[None] = mpsc.spawn(producer, tx)
    first: int = rx.recv()
    rest: list[int] = list(rx)
    handle.join()
    return first + sum(rest)


def bounded_pair() -> tuple[mpsc.SyncSender[str], mpsc.Receiver[str]]:
    return mpsc.sync_channel(4)


def errors(tx: mpsc.Sender[bytes], rx: mpsc.Receiver[bytes]) -> bytes | None:
    try:
        tx.try_send(b"x")
    except mpsc.Full as full:
        value: object = full.value
        del value
    try:
        return rx.recv_timeout(0.5)
    except mpsc.Timeout:
        return None


def worker_result() -> str:
    def work(n: int, suffix: str = "!") -> str:
        return str(n) + suffix

    return mpsc.spawn(work, 3, suffix="?").join()


def selecting(jobs: mpsc.Receiver[int], out: mpsc.Sender[str]) -> int | None:
    ticker: mpsc.Receiver[float] = mpsc.tick(0.1)
    index, value = mpsc.select(jobs, (out, "ready"), ticker, mpsc.after(1.0), timeout=2.0)
    sel = mpsc.Select(jobs)
    quit_index: int = sel.recv(mpsc.never())
    sel.remove(quit_index)
    sel.try_select()
    instant: float = mpsc.at(0.0).recv()
    del instant
    if index == 0 and isinstance(value, int):
        return value
    return None


async def async_usage(tx: mpsc.Sender[int], rx: mpsc.Receiver[int]) -> list[int]:
    async with tx:
        await tx.send_async(1)
    first: int = await rx.recv_async()
    rest = [n async for n in rx]
    await mpsc.select_async(rx, timeout=0.1)
    return [first, *rest]
