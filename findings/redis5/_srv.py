"""Shared by the findings: a real redis-server (tests/redis_server.py) in a scratch dir."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "tests"))

from redis_server import RedisServer  # noqa: E402


def server(persist: bool = False, password: str | None = None, extra: list[str] | None = None) -> RedisServer:
    d = Path(tempfile.mkdtemp(prefix="rreview5-"))
    srv = RedisServer(d, password=password, persist=persist)
    if extra:
        srv.command("CONFIG", "SET", *extra)
    me = os.getpid()

    def cleanup() -> None:
        if os.getpid() == me:
            try:
                srv.kill()
            except Exception:
                pass
            shutil.rmtree(d, ignore_errors=True)

    atexit.register(cleanup)
    return srv
