"""One channel shared by a thread and asyncio tasks, in both directions.

A blocking thread (say, a library without async support) produces readings; an asyncio task
consumes them with ``async for`` and sends replies back to the thread through a second
channel. Prints:
    task got reading 0, replying 0
    ...
    thread got 10 replies: [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]
"""

import asyncio

import mpsc


def sensor(readings: mpsc.Sender[int], replies: mpsc.Receiver[int]) -> list[int]:
    got = []
    with readings:
        for n in range(10):
            readings.send(n)  # a plain blocking call: this is an ordinary thread
            got.append(replies.recv())
    return got


async def main() -> None:
    readings_tx, readings_rx = mpsc.bounded(2)
    replies_tx, replies_rx = mpsc.channel()
    thread = mpsc.spawn(sensor, readings_tx, replies_rx)

    async with replies_tx:
        async for n in readings_rx:  # ends when the thread closes its Sender
            print(f"task got reading {n}, replying {n * n}")
            await replies_tx.send_async(n * n)

    replies = await asyncio.to_thread(thread.join)
    print(f"thread got {len(replies)} replies: {replies}")


if __name__ == "__main__":
    asyncio.run(main())
