"""Every code example of the README and the documentation runs, and shows what it says it shows.

The Markdown files are parsed with sybil. The rules for a fenced block:

* ``python``: run. Blocks of one page share a namespace, in order, as a reader typing them into
  one REPL would. A block that is a whole program (it has ``if __name__ == "__main__":``, as
  one starting processes must) runs as a script in a fresh interpreter instead.
* ``output`` right after a ``python`` block (nothing but blank lines between them): what that
  block prints, compared line by line. An ``output`` block anywhere else fails.
* ``text``: prose in a box (a diagram, a tree of modules), not run.
* ``sh``, ``toml``: commands and configuration for a reader, never run here (``make demo``,
  ``make test`` and ``make docs`` are run by CI themselves).
* Pages that use ``mpsc.redis`` read the server's URL from ``MPSC_REDIS_URL``, shown plainly in
  their first example: the test starts a real ``redis-server`` for such a page (tests/redis_server.py,
  no mock) and sets the variable; without a ``redis-server`` on PATH it fails, saying how to
  install one (``make test`` installs it first).
* Nothing else: a block without a language, or in another one, fails ``test_every_block_is_labelled``,
  so that no example is left out of the run by accident.

On the site's pages a line of code is at most 78 characters, which fits the page's column.

The files that the pages include (DESIGN.md, benchmarks/README.md, CHANGELOG.md) are held to
the same rules. The examples in the public docstrings, which the API reference shows, run as
doctests.
"""

from __future__ import annotations

import contextlib
import doctest
import importlib
import importlib.metadata
import importlib.util
import io
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from redis_server import RedisServer
from sybil import Example, Sybil
from sybil.parsers.markdown import CodeBlockParser

import mpsc

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted(str(path.relative_to(ROOT)) for path in [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
# The pages that teach by example: each must have at least one (the others may have none).
TEACHING = {
    page for page in PAGES if page.startswith(("README", "docs/index", "docs/tutorial", "docs/guides/"))
}
INCLUDED = ["DESIGN.md", "benchmarks/README.md", "CHANGELOG.md"]
LANGUAGES = {"python", "output", "text", "sh", "toml"}
WIDTH = 78
REDIS_URL = "MPSC_REDIS_URL"  # the variable the pages on mpsc.redis read their server's URL from
FENCE = re.compile(r"^(?P<indent> *)(?P<fence>```+|~~~+)(?P<info>[^\n`]*)$", re.MULTILINE)
DOCTEST_MODULES = [
    "mpsc",
    "mpsc._channels",
    "mpsc._select",
    "mpsc._timers",
    "mpsc.process",
    "mpsc.process._channels",
]

_OUTPUT = "__mpsc_docs_output__"  # (end of the last python block, what it printed)


def _run_python(example: Example) -> None:
    source = example.parsed
    if 'if __name__ == "__main__":' in source:
        printed = _run_script(source)
    else:
        code = compile(source, f"{example.path}:{example.line}", "exec")
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(code, example.namespace)
        printed = out.getvalue()
    example.namespace[_OUTPUT] = (example.end, printed)


def _run_script(source: str) -> str:
    # From a file, not ``-c``: spawn and forkserver children import the functions they run
    # from the main module's file.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    with tempfile.TemporaryDirectory() as where:
        script = Path(where) / "example.py"
        script.write_text(source)
        done = subprocess.run(
            [sys.executable, str(script)],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            check=False,
        )
    assert done.returncode == 0, f"the program failed:\n{done.stderr}"
    return done.stdout


def _check_output(example: Example) -> None:
    last = example.namespace.get(_OUTPUT)
    end, printed = last if last is not None else (0, "")
    between = example.document.text[end : example.start]
    assert last is not None and not between.strip(), (
        f"{example.path}:{example.line}: an output block that does not follow a python block"
    )
    expected = [line.rstrip() for line in example.parsed.strip("\n").splitlines()]
    got = [line.rstrip() for line in printed.strip("\n").splitlines()]
    assert got == expected, f"{example.path}:{example.line}: printed {got!r}, the page says {expected!r}"


SYBIL = Sybil(
    parsers=[
        CodeBlockParser(language="python", evaluator=_run_python),
        CodeBlockParser(language="output", evaluator=_check_output),
    ],
)


@pytest.fixture
def redis_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """``redis_for(page)`` starts a real redis-server if ``page`` reads ``MPSC_REDIS_URL`` and
    sets that variable to its URL (also for the scripts a page runs); it is killed at the end."""
    servers: list[RedisServer] = []

    def start(page: str) -> None:
        if REDIS_URL in (ROOT / page).read_text():
            servers.append(RedisServer(tmp_path / "redis", persist=False))
            monkeypatch.setenv(REDIS_URL, servers[-1].url)

    try:
        yield start
    finally:
        for server in servers:
            server.kill()


@pytest.mark.timeout(90)
@pytest.mark.parametrize("page", PAGES)
def test_examples_run(page: str, redis_for: Callable[[str], None]) -> None:
    redis_for(page)
    document = SYBIL.parse(ROOT / page)
    examples = list(document)
    if page in TEACHING:
        assert any(example.region.evaluator is _run_python for example in examples), page
    try:
        for example in examples:
            try:
                example.evaluate()
            except Exception as exc:
                raise AssertionError(f"{page}, line {example.line}: {exc!r}") from exc
    finally:
        document.namespace.clear()  # drop the page's handles now (their channels disconnect)


@pytest.mark.parametrize("page", PAGES + INCLUDED)
def test_every_block_is_labelled(page: str) -> None:
    """Every fenced block names a language this test knows: none escapes the run unnoticed."""
    text = (ROOT / page).read_text()
    opened: str | None = None
    for match in FENCE.finditer(text):
        fence, info = match["fence"], match["info"].strip()
        if opened is None:
            line = text.count("\n", 0, match.start()) + 1
            assert info, f"{page}, line {line}: a code block without a language"
            language = info.split()[0]
            assert language in LANGUAGES, f"{page}, line {line}: a code block in {language!r}"
            opened = fence
        elif fence.startswith(opened) and not info:
            opened = None
    assert opened is None, f"{page}: a code block is never closed"


@pytest.mark.parametrize("page", [page for page in PAGES if page.startswith("docs/")])
def test_code_fits_the_page(page: str) -> None:
    inside = False
    for number, line in enumerate((ROOT / page).read_text().splitlines(), 1):
        if FENCE.match(line):
            inside = not inside
        elif inside:
            assert len(line) <= WIDTH, f"{page}, line {number}: {len(line)} characters"


REFERENCE = ROOT / "docs" / "reference"


@pytest.mark.parametrize("package", ["mpsc", "mpsc.process", "mpsc.redis"])
def test_the_reference_shows_every_public_name(package: str) -> None:
    """Each name of ``__all__`` has its entry (``::: package.name``), and the handles list
    every public method (their entries name them, to put send and recv first)."""
    module = importlib.import_module(package)
    pages = "".join(page.read_text() for page in REFERENCE.glob("*.md"))
    shown = set(re.findall(rf"^::: {re.escape(package)}\.(\w+)$", pages, re.MULTILINE))
    shown = {name for name in shown if importlib.util.find_spec(f"{package}.{name}") is None}  # not modules
    assert shown == set(module.__all__)
    for cls in (module.Sender, module.Receiver):
        entry = re.search(
            rf"^::: {re.escape(package)}\.{cls.__name__}\n    options:\n      members: \[(.*)\]$",
            pages,
            re.MULTILINE,
        )
        assert entry, f"{package}.{cls.__name__} does not list its members"
        public = {name for name in dir(cls) if not name.startswith("_")}
        assert set(entry[1].split(", ")) == public, f"{package}.{cls.__name__}"


def test_the_pages_include_only_checked_files() -> None:
    """What the pages pull in with snippets (``--8<--``) is in INCLUDED, so it is checked above."""
    included = set()
    for page in PAGES:
        included.update(re.findall(r'^--8<-- "([^":]+)', (ROOT / page).read_text(), re.MULTILINE))
    assert included <= set(INCLUDED), included - set(INCLUDED)


@pytest.mark.parametrize("name", DOCTEST_MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    tests = finder.find(module, name)
    out = io.StringIO()
    for test in tests:  # (the finder leaves out what a module only re-exports)
        runner.run(test, out=out.write)
    results = runner.summarize(verbose=False)
    assert results.attempted, f"{name} has no docstring example"
    assert not results.failed, out.getvalue()


def test_the_version_lives_in_one_place() -> None:
    """pyproject.toml takes the version from ``mpsc.__version__``; the changelog has it."""
    assert importlib.metadata.version("mpsc") == mpsc.__version__
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject
    assert re.search(r"^version = \{ attr = \"mpsc.__version__\" \}$", pyproject, re.MULTILINE)
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert re.search(rf"^## {re.escape(mpsc.__version__)}\b", changelog, re.MULTILINE)
