"""Generate the taskqueue SDK's sync client from its async source.

    python scripts/unasync_sdk.py           # rewrite the sync files
    python scripts/unasync_sdk.py --check   # exit 1, listing them, when any is stale

Each async module in ``PAIRS`` is rewritten token by token (``async def`` -> ``def``,
``await x`` -> ``x``, ``AsyncClientCore`` -> ``SyncClientCore``, ... see ``RENAMES``), then
sorted and formatted with ruff, so the output is what ``make fmt`` would leave. Where the two
clients must differ, the async source says so with a comment:

* ``code  # unasync: other code`` -- the sync file has ``other code`` (renamed like the
  rest) on that line instead; ``# unasync: drop`` leaves the line out.
* ``# unasync: async-only`` ... ``# unasync: sync-only`` ... ``# unasync: end`` -- the lines
  of the first part are left out of the sync file; those of the second part are comments in
  the async file (``# `` after the indentation) and become code in the sync file. The
  ``sync-only`` part may be omitted.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "pyproject.toml"  # ruff's settings, wherever the files are
SRC = ROOT / "packages" / "taskqueue-sdk" / "src" / "taskqueue"

PAIRS = {
    "_async_httpx.py": "_sync_httpx.py",
    "_async_core.py": "_sync_core.py",
    "_async_extras.py": "_sync_extras.py",
    "_async_pages.py": "_sync_pages.py",
    "async_client.py": "sync_client.py",
}

# Whole words (and dotted names), longest first so that no rename eats part of another.
RENAMES = {
    "AsyncTaskQueueClient": "TaskQueueClient",
    "AsyncClientExtras": "SyncClientExtras",
    "AsyncClientCore": "SyncClientCore",
    "AsyncHttpxTransport": "SyncHttpxTransport",
    "AsyncTaskPager": "SyncTaskPage",
    "AsyncTaskPage": "SyncTaskPage",
    "AsyncTasks": "SyncTasks",
    "AsyncTransport": "SyncTransport",
    "AsyncIterator": "Iterator",
    "AsyncIterable": "Iterable",
    "StopAsyncIteration": "StopIteration",
    "async_transport": "sync_transport",
    "httpx.AsyncClient": "httpx.Client",
    "asyncio.sleep": "time.sleep",
    "__aenter__": "__enter__",
    "__aexit__": "__exit__",
    "__aiter__": "__iter__",
    "__anext__": "__next__",
    "aclose": "close",
    "_async_httpx": "_sync_httpx",
    "_async_core": "_sync_core",
    "_async_extras": "_sync_extras",
    "_async_pages": "_sync_pages",
    "async_client": "sync_client",
}

# Prose in docstrings and comments.
PHRASES = {
    "an async context manager": "a context manager",
    "async context manager": "context manager",
    "async code": "blocking code",
    "async for": "for",
    "async client": "sync client",
    "async call": "sync call",
}

_DIRECTIVE = re.compile(r"\s*# unasync: (?P<what>.*)$")
_WORD = re.compile(r"(?<!\w)(" + "|".join(re.escape(k) for k in RENAMES) + r")(?!\w)")
_KEYWORDS = (
    (re.compile(r"\basync (def|for|with)\b"), r"\1"),
    (re.compile(r"\bawait "), ""),
    (re.compile(r"\s*# noqa: ASYNC\d+[^#\n]*"), ""),
)


def _header(source: str) -> str:
    return (
        f"# Generated from {source} by scripts/unasync_sdk.py: do not edit.\n"
        "# Change the async source, then run `python scripts/unasync_sdk.py` (the test\n"
        "# test_generated_sync_client_is_current fails while this file is stale).\n"
    )


def _blocks(lines: list[str]) -> list[str]:
    """Apply the async-only / sync-only blocks."""
    out: list[str] = []
    mode = "both"
    for number, line in enumerate(lines, 1):
        marker = line.strip()
        if marker == "# unasync: async-only":
            mode = "async"
        elif marker == "# unasync: sync-only":
            if mode != "async":
                raise SystemExit(f"line {number}: sync-only without async-only before it")
            mode = "sync"
        elif marker == "# unasync: end":
            if mode == "both":
                raise SystemExit(f"line {number}: end without async-only before it")
            mode = "both"
        elif mode == "both":
            out.append(line)
        elif mode == "sync":
            indent = len(line) - len(line.lstrip())
            body = line[indent:]
            if body and not body.startswith("#"):
                raise SystemExit(f"line {number}: a sync-only line must be a comment")
            out.append(line[:indent] + body[2:] if body.startswith("# ") else line[:indent])
    if mode != "both":
        raise SystemExit("an async-only block has no # unasync: end")
    return out


def _line(line: str) -> str | None:
    """One line with its directive applied, or None to drop it."""
    found = _DIRECTIVE.search(line)
    if found is not None and not line.lstrip().startswith("#"):
        what = found.group("what").strip()
        if what == "drop":
            return None
        line = line[: len(line) - len(line.lstrip())] + what
    for pattern, repl in _KEYWORDS:
        line = pattern.sub(repl, line)
    line = _WORD.sub(lambda m: RENAMES[m.group(1)], line)
    for phrase, repl in PHRASES.items():
        line = line.replace(phrase, repl).replace(phrase.capitalize(), repl.capitalize())
    return line


def _ruff(text: str, filename: Path) -> str:
    """Sort imports, drop unused ones (a rename can leave one), turn ``for x in it: yield x``
    into ``yield from it`` (the async form has no shorter spelling), then format."""
    base = [sys.executable, "-m", "ruff"]
    name = ["--config", str(CONFIG), "--stdin-filename", str(filename)]
    fixed = subprocess.run(
        [*base, "check", "--fix-only", "--unsafe-fixes", "--select", "I,F401,UP028", *name, "-"],
        input=text,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    return subprocess.run(
        [*base, "format", "--quiet", *name, "-"],
        input=fixed,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout


def generate(async_name: str) -> str:
    """The sync module generated from the async module ``async_name``."""
    source = SRC / async_name
    lines = _blocks(source.read_text().splitlines())
    converted = [out for line in lines if (out := _line(line)) is not None]
    text = _header(f"taskqueue/{async_name}") + "\n".join(converted) + "\n"
    return _ruff(text, SRC / PAIRS[async_name])


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check`` compare) every generated file; 1 when any is stale."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 if stale")
    args = parser.parse_args(argv)
    stale = []
    for async_name, sync_name in PAIRS.items():
        target = SRC / sync_name
        wanted = generate(async_name)
        if target.exists() and target.read_text() == wanted:
            continue
        stale.append(target.relative_to(ROOT))
        if not args.check:
            target.write_text(wanted)
    if args.check and stale:
        listed = ", ".join(map(str, stale))
        print(f"stale: {listed}; run python scripts/unasync_sdk.py", file=sys.stderr)
        return 1
    for path in stale:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
