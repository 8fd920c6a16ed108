"""Finding 10: every event loop that used a channel's async methods leaks a connection (an fd
here, a client on the server) for the life of the process.

Promise: issue 12 "Resource hygiene"; DESIGN §4.7 (a task whose event loop is gone); the
`send_async`/`recv_async` docs ("redis.asyncio; no thread") say nothing about a cost per loop.
`asyncio.run()` per request/job (common in sync code that calls an async helper) is the ordinary
way to use them from sync code.

What happens: `Link._loop_pool` keeps one redis.asyncio ConnectionPool per loop in a
WeakKeyDictionary; when the loop ends the pool is dropped without `disconnect()`, and its
connections' sockets stay open (the closed loop can no longer close their transports). One fd
per `asyncio.run()`, until EMFILE (`ulimit -n` is 1024 by default) - and one server client each
(maxclients 10000 by default).

The script: 200 x `asyncio.run(send_async + recv_async)`, then gc; compares the process's fds
and the server's connected_clients before and after. Exit 1 if they grew by more than 10.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys

from _srv import server

import mpsc.redis as mr


def main() -> int:
    srv = server()
    tx, rx = mr.channel(srv.url)
    tx.send(0)
    rx.recv()
    fds0 = len(os.listdir("/proc/self/fd"))
    clients0 = int(srv.command("INFO", "clients")["connected_clients"])
    for i in range(200):

        async def once(i: int = i) -> object:
            await tx.send_async(i)
            return await rx.recv_async()

        asyncio.run(once())
    gc.collect()
    fds1 = len(os.listdir("/proc/self/fd"))
    clients1 = int(srv.command("INFO", "clients")["connected_clients"])
    print(f"after 200 asyncio.run(): fds {fds0} -> {fds1}; server connected_clients {clients0} -> {clients1}")
    tx.close()
    rx.close()
    if fds1 - fds0 > 10 or clients1 - clients0 > 10:
        print("FAIL: each event loop leaked a connection")
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
