"""The Redis workloads of the benchmark suite (benchmarks/redis_workloads.py) run and account
for every message: a few hundred messages each, against the tests' own redis-server. Speed is
measured by ``make bench``, never asserted here."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from redis_server import RedisServer

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture(scope="module")
def rw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The bench's Redis module, pointed at a server of this test module's own."""
    sys.path.insert(0, str(BENCH))
    try:
        import redis_workloads

        srv = RedisServer(tmp_path_factory.mktemp("redis-bench"), persist=False)
        assert srv.proc is not None
        saved = dict(redis_workloads._server)
        redis_workloads._server.update(url=srv.url, pid=srv.proc.pid)
        try:
            yield redis_workloads
        finally:
            redis_workloads._server.clear()
            redis_workloads._server.update(saved)
            srv.kill()
    finally:
        sys.path.remove(str(BENCH))


def test_one_to_one_rows(rw: Any) -> None:
    for rows in (rw.SEND_ROWS, rw.RECV_ROWS):
        for run in rows.values():
            assert run(300) > 0


def test_fanin_rows_count_every_message_and_the_server_cpu(rw: Any) -> None:
    for run in rw.FANIN_ROWS.values():
        rate, figures = run(400)
        assert rate > 0
        assert set(figures) == {"server CPU s/100k msgs", "server % of a core"}
        assert all(math.isfinite(v) and v >= 0 for v in figures.values())


def test_disconnect_row_reports_a_time(rw: Any) -> None:
    seconds = rw.disconnect_run(0.3)(1)  # its bound is the bench's to report, not asserted here
    assert 0 < seconds < 30


def test_tables_show_the_figures_and_targets(rw: Any) -> None:
    import report
    import workloads

    found = {w.key: w for w in workloads._redis_workloads()}
    fanin = found["redis_fanin"]
    results = {
        name: report.Result(name, [100.0, 120.0], extras={"server CPU s/100k msgs": [1.0, 2.0]})
        for name in rw.FANIN_ROWS
    }
    table = report.workload_table(fanin, results, 400, 2)
    assert "server CPU s/100k msgs" in table
    assert "1.5" in table
    text, records = report.targets_table({"redis_fanin": results})
    assert [r["met"] for r in records] == [None, None]
    assert "reported" in text
