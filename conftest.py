"""Repository-wide test ordering: the slowest test files start first, so workers end together.

``make test`` runs ``--dist loadfile --no-loadscope-reorder``: pytest-xdist hands each test
file, whole, to whichever worker is free, in collection order. Ordering the collection by the
durations the previous run recorded (in pytest's cache, ``.pytest_cache``) starts the long
end-to-end, subprocess and chaos files at once instead of leaving one of them to run alone at
the end. A file stays on one worker, so its module-scoped fixtures (a started stack, a
browser) are set up once. (``--dist loadgroup`` would split files further, but its
``xdist_group`` marks have no effect with pytest 9, whose node ids xdist can no longer
suffix.)

Without a cache (the first run, or ``-p no:cacheprovider``) files holding tests marked ``slow``
go first and the rest keep their collected order. A test the cache has not seen yet counts as
one second. Serial runs keep the collected order.
"""

from __future__ import annotations

import pytest

_KEY = "platform/durations"
_UNSEEN_S = 1.0


def _file(item: pytest.Item) -> str:
    return item.nodeid.split("::", 1)[0]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Order the test files slowest first when xdist hands out whole files."""
    # An xdist worker sees its controller's --dist as config.workerinput's "dist" only, so the
    # controller passes it down (pytest_configure_node below).
    workerinput = getattr(config, "workerinput", {})
    if workerinput.get("platform_dist") != "loadfile":
        return
    cache = getattr(config, "cache", None)
    known: dict[str, float] = cache.get(_KEY, {}) if cache is not None else {}
    totals: dict[str, float] = {}
    first: dict[str, int] = {}
    for index, item in enumerate(items):
        name = _file(item)
        first.setdefault(name, index)
        if known:
            seconds = known.get(item.nodeid, _UNSEEN_S)
        else:
            seconds = 1.0 if item.get_closest_marker("slow") is not None else 0.0
        totals[name] = totals.get(name, 0.0) + seconds
    position = {id(item): index for index, item in enumerate(items)}
    items.sort(key=lambda item: (-totals[_file(item)], first[_file(item)], position[id(item)]))


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: object) -> None:
    """Tell each xdist worker the controller's --dist mode (in the controller)."""
    config = node.config  # type: ignore[attr-defined]
    node.workerinput["platform_dist"] = config.getoption("dist", "no")  # type: ignore[attr-defined]


class _Recorder:
    """Adds up each test's phases (setup, call, teardown) and merges them into the cache."""

    def __init__(self, cache: pytest.Cache) -> None:
        self.cache = cache
        self.seen: dict[str, float] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Add a phase's duration (in the controller, reports arrive from every worker)."""
        self.seen[report.nodeid] = self.seen.get(report.nodeid, 0.0) + report.duration

    def pytest_sessionfinish(self) -> None:
        """Merge this run's durations into the ones recorded before."""
        if self.seen:
            fresh = {nodeid: round(s, 3) for nodeid, s in self.seen.items()}
            self.cache.set(_KEY, {**self.cache.get(_KEY, {}), **fresh})


def pytest_configure(config: pytest.Config) -> None:
    """Record durations in the controller or a plain run (workers report to the controller)."""
    cache = getattr(config, "cache", None)
    if cache is not None and not hasattr(config, "workerinput"):
        config.pluginmanager.register(_Recorder(cache), "platform-durations")
