"""MkDocs hooks: the benchmark plots live in benchmarks/results/, where `make bench` writes them;
they are added to the site as img/bench/*.png instead of being copied into docs/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

RESULTS = Path(__file__).resolve().parent.parent / "benchmarks" / "results"


def on_files(files: Files, config: Any) -> Files:
    for plot in sorted(RESULTS.glob("*.png")):
        files.append(File.generated(config, f"img/bench/{plot.name}", abs_src_path=str(plot)))
    return files
