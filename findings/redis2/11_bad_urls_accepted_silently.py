"""Bad Redis URLs that mpsc.redis accepts and points somewhere else, instead of "a clear
exception at the call" (``_keys.check_url`` promises ValueError/TypeError for a URL "redis-py
does not accept" and checks the port's range, but):

* ``redis://host:0/0``: port 0 is taken by redis-py as "the default", 6379: the channel is made
  on another server than the one named (here on an unroutable TEST-NET host, so the call ends
  with ConnectionError naming port 6379; on a machine with a local Redis on 6379 it silently
  succeeds there);
* ``redis://host:port/abc``: a database that is not a number is ignored: the channel lives in
  database 0 while the URL (and every repr, and every pickled handle) says ``/abc``;
* ``?decode_responses=true``: the URL's options override mpsc's connection options, and with
  this one every reply is a str: ``channel()`` raises ``TypeError: string argument without an
  encoding`` (from ``bytes(reply[1])``), after the JOIN made the channel's keys on the server.

Cause: ``_keys.check_url`` (port 0, path not a database number, query options), ``_link._OPTIONS``
given to ``from_url``, whose URL options win. Suggested fix: refuse port 0 and a non-numeric
path; refuse (or override) the query options that change replies or bounds (decode_responses,
protocol, socket_timeout, socket_connect_timeout, retry...).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _srv import server  # noqa: E402

import mpsc  # noqa: E402
import mpsc.redis  # noqa: E402

srv = server()
problems = []

t0 = time.monotonic()
try:
    mpsc.redis.channel("redis://192.0.2.1:0/0")
    problems.append("redis://192.0.2.1:0/0 accepted")
except ValueError as e:
    print("port 0: ValueError:", e)
except mpsc.redis.ConnectionError as e:
    print(f"port 0: ConnectionError after {time.monotonic() - t0:.1f} s: {e}")
    if ":6379" in str(e):
        problems.append("port 0 in the URL: mpsc.redis connected to port 6379 (another server) instead of refusing the URL")

try:
    tx, rx = mpsc.redis.channel(f"redis://127.0.0.1:{srv.port}/abc", name="dbtest")
    # (srv.command's client is on database 0)
    in_db0 = srv.command("EXISTS", "{dbtest}:mpsc:meta") == 1
    print(f"db 'abc': accepted, {tx!r}; its keys are in database 0: {in_db0}")
    problems.append("redis://.../abc accepted (the channel is in database 0)")
    tx.close()
    rx.close()
except ValueError as e:
    print("db 'abc': ValueError:", e)

before = set(srv.command("KEYS", "*mpsc:meta"))
try:
    mpsc.redis.channel(f"redis://127.0.0.1:{srv.port}/0?decode_responses=true")
    problems.append("decode_responses=true accepted")
except ValueError as e:
    print("decode_responses: ValueError:", e)
except TypeError as e:
    left = set(srv.command("KEYS", "*mpsc:meta")) - before
    print(f"decode_responses=true: TypeError: {e}; channel keys left on the server: {sorted(left)}")
    if "mpsc" not in str(e) and "URL" not in str(e):
        problems.append(f"?decode_responses=true: an unexplained TypeError ({e}) after the channel was made on the server")

if problems:
    print("FAIL:", "; ".join(problems))
    sys.exit(1)
print("OK")
