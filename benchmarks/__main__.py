"""Run the benchmark modules and rewrite ``benchmarks/results.md``.

Usage: ``python -m benchmarks [NAME ...] [--quick] [--list]`` where NAME selects modules
``bench_NAME.py`` (all when omitted). Results of modules not run this time are kept.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
from pathlib import Path

from benchmarks.harness import RESULTS_MD, Harness, load_results, render_markdown

HERE = Path(__file__).parent


def _modules() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m benchmarks``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("names", nargs="*", help="modules to run (bench_NAME.py); all if none")
    parser.add_argument("--quick", action="store_true", help="few, short rounds (smoke test)")
    parser.add_argument("--list", action="store_true", help="list the modules and exit")
    args = parser.parse_args(argv)
    available = _modules()
    if args.list:
        print("\n".join(available))
        return 0
    unknown = sorted(set(args.names) - set(available))
    if unknown:
        print(
            f"unknown benchmark(s) {', '.join(unknown)}; available: {', '.join(available)}",
            file=sys.stderr,
        )
        return 2
    for name in args.names or available:
        print(f"[{name}]")
        module = importlib.import_module(f"benchmarks.bench_{name}")
        harness = Harness(name, quick=args.quick)
        asyncio.run(module.main(harness))
        harness.save()
    RESULTS_MD.write_text(render_markdown(load_results()))
    print(f"wrote {RESULTS_MD}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
