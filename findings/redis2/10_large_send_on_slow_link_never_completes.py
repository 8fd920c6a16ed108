"""On a link where a send's command takes longer than IO_TIMEOUT - GRACE/2 (1.75 s) to upload,
an untimed send() never completes and never raises: every attempt reaches the server after its
own server-side ``late`` instant, SEND_FAST says 'slow', SEND says 'late', and with no deadline
``_send_steps`` redoes the same chunk with a new ``late`` for ever, uploading the whole value
again each time. 1.75 s is 22 MB at 100 Mbit/s, so over an ordinary network a 30 MB value, or a
send_many chunk of 500 values of 60 KB, spins for ever.

Promise: send: "Returns once the value is on the server"; ConnectionError after RETRY_FOR when
the server cannot be reached; mpsc.redis: "every call is bounded" (_link). Here: neither.

The link is simulated by a TCP proxy in this script that forwards client->server at 4 MB/s
(server->client unthrottled); the value is 10 MB (2.5 s to upload). After 15 s the proxy is shut
(the send then fails with ConnectionError and the script ends). Counts the attempts by the
bytes the proxy forwarded.
Cause: ``Sender._send_steps`` (``late`` from ``give_up - GRACE/2`` with give_up = now +
IO_TIMEOUT, and the 'late' branch redoing when there is no deadline). Suggested fix: compute
``late`` after the command is written (or from the write's end), scale it with the payload
size, or give an untimed send no late guard (late = 0).
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _srv import server  # noqa: E402

import mpsc  # noqa: E402
import mpsc.redis  # noqa: E402

RATE = 4_000_000  # bytes per second, client -> server
SIZE = 10_000_000


class Proxy:
    def __init__(self, port: int) -> None:
        self.target = port
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]
        self.up = 0
        self.stopped = threading.Event()
        self.socks: list[socket.socket] = []
        self.threads: list[threading.Thread] = []
        self._spawn(self._accept)

    def _spawn(self, fn, *args) -> None:  # type: ignore[no-untyped-def]
        t = threading.Thread(target=fn, args=args, daemon=True)
        self.threads.append(t)
        t.start()

    def _accept(self) -> None:
        self.lsock.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                c, _ = self.lsock.accept()
            except (TimeoutError, OSError):
                continue
            s = socket.create_connection(("127.0.0.1", self.target))
            self.socks += [c, s]
            self._spawn(self._pump, c, s, True)
            self._spawn(self._pump, s, c, False)

    def _pump(self, a: socket.socket, b: socket.socket, throttle: bool) -> None:
        a.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                data = a.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not data:
                break
            if throttle:
                self.up += len(data)
                time.sleep(len(data) / RATE)
            try:
                b.sendall(data)
            except OSError:
                break
        for x in (a, b):
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self) -> None:
        self.stopped.set()
        for s in self.socks + [self.lsock]:
            try:
                s.close()
            except OSError:
                pass
        for t in self.threads:
            t.join(5)


srv = server()
proxy = Proxy(srv.port)
url = f"redis://127.0.0.1:{proxy.port}/0"
tx, rx = mpsc.redis.channel(url)
outcome: list[str] = []


def send() -> None:
    t0 = time.monotonic()
    try:
        tx.send(b"x" * SIZE)
        outcome.append(f"returned after {time.monotonic() - t0:.1f} s")
    except BaseException as e:  # noqa: BLE001
        outcome.append(f"raised {type(e).__name__} after {time.monotonic() - t0:.1f} s")


t = threading.Thread(target=send)
t.start()
t.join(15)
still = t.is_alive()
attempts = proxy.up / SIZE
queued = srv.command("XLEN", tx.name)
print(f"after 15 s: send {'still running' if still else outcome[0]}; the proxy forwarded {proxy.up / 1e6:.0f} MB "
      f"(~{attempts:.1f} uploads of the {SIZE / 1e6:.0f} MB value); entries in the stream: {queued}")
proxy.stop()  # the send now fails to reach the server (ConnectionError after RETRY_FOR)
t.join(20)
print("then:", outcome[-1] if outcome else "still running")
for h in (tx, rx):
    try:
        h.close()
    except Exception:
        pass
if still and queued == 0:
    print("FAIL: an untimed send of a 10 MB value over a 4 MB/s link never completes and never raises (re-uploads it for ever)")
    sys.exit(1)
print("OK")
