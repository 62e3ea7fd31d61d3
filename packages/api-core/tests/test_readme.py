"""Every Python example in the README runs and prints what the README says."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)
# What each example prints (as the README says after it), in order.
EXPECTED = [
    "[{'id': 1, 'status': 'Running', 'priority': 3}]\n404 application/problem+json no task 9",
    "degraded ConnectionError: connection refused",
    "['Pen', 'Lamp']\n['Pen', 'Refurb Pen']\nTrue",
    "{9.99} 1\n2",
    "['__main__.reserve', 'orders.place']\n1",
    "0\nOk(value=5)\n5",
    "ORDERS_LOG_LEVEL: Input should be 'DEBUG'",
    "/docs 200 offline: True\n303 /ui/sign-in?next=/ui/orders\n303 /ui/orders\n"
    "<h1>2 orders for acme</h1>\nPOST without CSRF token: 403",
]


def test_every_example_has_an_expectation() -> None:
    assert len(BLOCKS) == len(EXPECTED)


@pytest.mark.parametrize(
    ("source", "expected"), list(zip(BLOCKS, EXPECTED, strict=False)), ids=range(len(EXPECTED))
)
def test_readme_example_runs(source: str, expected: str, tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(source)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert expected in done.stdout
