"""A real ``redis-server`` for the tests of mpsc.redis: started on a free loopback port in a
scratch directory of its own, so a test can kill, pause, resume and restart it.

No mock: the tests talk to the server Debian packages (``make test`` installs it when missing).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

START_WITHIN = 10.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ping(port: int, password: str | None) -> bool:
    """One PING over a raw socket (no client library needed)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            if password:
                s.sendall(f"AUTH {password}\r\n".encode())
                s.recv(64)
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _dying_with_this_thread(args: list[str]) -> list[str]:
    """``args`` run so that the server gets SIGKILL when the thread that started it ends, its
    whole process too (PR_SET_PDEATHSIG, by util-linux's ``setpriv``, which then execs the
    server: same pid): a pytest ended by pytest-timeout (``os._exit``) leaves no server behind.
    Where ``setpriv`` is missing, ``args`` as they are (the fixtures still kill it). Servers are
    started from the test's main thread, which lives as long as the run."""
    setpriv = shutil.which("setpriv")
    if setpriv is None or not sys.platform.startswith("linux"):
        return args
    return [setpriv, "--pdeathsig", "KILL", *args]


class RedisServer:
    """One redis-server process; ``url`` reaches it. Persistence is an append-only file
    written at every command (``appendfsync always``), so a restart finds every send."""

    def __init__(self, directory: Path, password: str | None = None, persist: bool = True) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(
                "redis-server is not installed: `make test` installs it (apt-get install redis-server); "
                "or install Debian's redis-server package yourself"
            )
        self.binary = binary
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.password = password
        self.persist = persist
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.dir),
            "--save",
            "",
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
        ]
        if self.persist:
            args += ["--appendonly", "yes", "--appendfsync", "always"]
        else:
            args += ["--appendonly", "no"]
        if self.password:
            args += ["--requirepass", self.password]
        with open(self.dir / "server.log", "ab") as log:
            self.proc = subprocess.Popen(_dying_with_this_thread(args), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_WITHIN
        while not _ping(self.port, self.password):
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"redis-server exited with {self.proc.returncode}; see {self.dir}/server.log"
                )
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"redis-server did not answer within {START_WITHIN} s")
            time.sleep(0.01)

    def _signal(self, sig: int) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, sig)

    def pause(self) -> None:
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL (after SIGCONT, in case it was paused), and reap it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                os.kill(self.proc.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        if self.proc is not None:
            self.proc.wait(START_WITHIN)

    def stop(self) -> None:
        """A clean shutdown (SIGTERM: the append-only file is flushed), reaped."""
        assert self.proc is not None
        self.proc.terminate()
        self.proc.wait(START_WITHIN)

    def restart(self) -> None:
        self.stop()
        self.start()

    def command(self, *args: Any) -> Any:
        """One command through a plain redis-py client (for inspecting keys)."""
        import redis

        client = redis.Redis.from_url(self.url, socket_timeout=5)
        try:
            return client.execute_command(*args)
        finally:
            client.close()
