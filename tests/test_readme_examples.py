"""Every Python example in every README runs, against real services, so none can rot.

Each fenced ``python`` block is run as a script in a fresh interpreter with ``REDIS_URL``,
``DATABASE_URL`` and ``ES_URL`` pointing at the test session's servers (a fresh database,
isolated key prefix and index prefix) and must exit 0. api-core's README is left to its own
``test_readme.py``, which also checks what each example prints.

A few blocks cannot run alone: fragments that continue an earlier example, and clients of a
Task Queue server listening on a fixed address. They are listed in ``NOT_RUNNABLE`` with the
reason; for those the block must still compile (top-level ``await`` allowed) and its import
statements must run, so a renamed or removed name still fails here. An entry that no longer
matches any block fails too, so the list cannot go stale.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_ALL = [ROOT / "README.md", *ROOT.glob("packages/*/README.md"), *ROOT.glob("apps/*/README.md")]
READMES = sorted(p for p in _ALL if p.parent.name != "api-core")
# README (relative path) -> {text that identifies the block: why it is not run alone}
NOT_RUNNABLE = {
    "packages/necrostack/README.md": {
        "await Spine(organs, backend).run(": "a fragment continuing the first example",
    },
    "packages/activity-store/README.md": {
        "jsonld.use_loader(": "a fragment: ctx_document and my_fetch are the application's",
    },
    "packages/taskqueue-sdk/README.md": {
        'AsyncTaskQueueClient("http://localhost:8080"': "needs a Task Queue server on :8080",
        "with TaskQueueClient() as client:": "needs a Task Queue server (TASKQUEUE_BASE_URL)",
        "verify_webhook(request.headers": "a fragment inside a web handler",
        "handler.run(port=8081)": "serves webhooks until stopped",
        "async for task in client.tasks.list(": "a fragment: client, sync_client are open",
    },
    "apps/taskqueue-server/README.md": {
        'AsyncTaskQueueClient("http://127.0.0.1:8080"': "needs the server it documents running",
    },
}


def _blocks() -> list[tuple[str, int, str]]:
    found = []
    for readme in READMES:
        rel = readme.relative_to(ROOT).as_posix()
        for n, block in enumerate(re.findall(r"```python\n(.*?)```", readme.read_text(), re.S)):
            found.append((rel, n, textwrap.dedent(block)))  # a block inside a list item
    return found


BLOCKS = _blocks()


def _reason(rel: str, block: str) -> str | None:
    for marker, reason in NOT_RUNNABLE.get(rel, {}).items():
        if marker in block:
            return reason
    return None


def test_every_listed_exception_matches_a_block() -> None:
    for rel, markers in NOT_RUNNABLE.items():
        blocks = [b for r, _, b in BLOCKS if r == rel]
        for marker in markers:
            assert any(marker in b for b in blocks), f"{rel}: no block contains {marker!r}"


@pytest.mark.parametrize(
    ("rel", "block"),
    [(rel, block) for rel, _, block in BLOCKS if _reason(rel, block) is None],
    ids=[f"{rel}#{n}" for rel, n, block in BLOCKS if _reason(rel, block) is None],
)
def test_readme_example_runs(
    rel: str,
    block: str,
    tmp_path: Path,
    redis_url: str,
    postgres_url: str,
    elasticsearch_url: str,
) -> None:
    script = tmp_path / "example.py"
    script.write_text(block)
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "DATABASE_URL": postgres_url,
        "ES_URL": elasticsearch_url,
    }
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
        env=env,
    )
    assert done.returncode == 0, f"{rel}:\n{done.stdout}\n{done.stderr}"


@pytest.mark.parametrize(
    ("rel", "block"),
    [(rel, block) for rel, _, block in BLOCKS if _reason(rel, block) is not None],
    ids=[f"{rel}#{n}" for rel, n, block in BLOCKS if _reason(rel, block) is not None],
)
def test_fragment_compiles_and_its_imports_resolve(rel: str, block: str, tmp_path: Path) -> None:
    tree = compile(block, rel, "exec", flags=ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    imports = [node for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)]
    assert imports, f"{rel}: a fragment with nothing to check"
    script = tmp_path / "imports.py"
    script.write_text(ast.unparse(ast.Module(body=imports, type_ignores=[])))
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode == 0, f"{rel}: {done.stderr}"
