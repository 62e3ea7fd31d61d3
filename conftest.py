"""Repository-wide test ordering: the slowest tests start first, so parallel workers end together.

``make test`` runs ``--dist loadgroup --no-loadscope-reorder``: pytest-xdist hands out tests in
collection order, a few at a time, to whichever worker is free. Ordering the collection by the
durations the previous run recorded (in pytest's cache, ``.pytest_cache``) starts the long
end-to-end, subprocess and chaos tests at once instead of leaving one of them to run alone at
the end. Tests that share a module- or class-scoped fixture (a started stack, a browser) get an
``xdist_group`` of their module, so they still run together on one worker and set it up once.

Without a cache (the first run, or ``-p no:cacheprovider``) tests marked ``slow`` go first and
the rest keep their collected order. A test the cache has not seen yet counts as one second.
"""

from __future__ import annotations

import pytest

_KEY = "platform/durations"
_UNSEEN_S = 1.0
_SHARED_SCOPES = frozenset({"module", "class", "package"})


def _shares_a_fixture(item: pytest.Item) -> bool:
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    return any(defs[-1].scope in _SHARED_SCOPES for defs in info.name2fixturedefs.values() if defs)


def _unit(item: pytest.Item) -> str:
    """The scheduling unit: the module for tests sharing a wider-scoped fixture, else the test."""
    mark = item.get_closest_marker("xdist_group")
    if mark is not None:
        return "group:" + str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
    return item.nodeid


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep module-shared fixtures on one worker, then order the units slowest first."""
    for item in items:
        if item.get_closest_marker("xdist_group") is None and _shares_a_fixture(item):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::", 1)[0]))
    # An xdist worker sees its controller's --dist loadgroup as option.loadgroup.
    if not getattr(config.option, "loadgroup", False):
        return  # a serial run, or another xdist mode: the collected order
    cache = getattr(config, "cache", None)
    known: dict[str, float] = cache.get(_KEY, {}) if cache is not None else {}
    totals: dict[str, float] = {}
    first: dict[str, int] = {}
    for index, item in enumerate(items):
        unit = _unit(item)
        first.setdefault(unit, index)
        if known:
            seconds = known.get(item.nodeid, _UNSEEN_S)
        else:
            seconds = 1.0 if item.get_closest_marker("slow") is not None else 0.0
        totals[unit] = totals.get(unit, 0.0) + seconds
    position = {item.nodeid: index for index, item in enumerate(items)}
    items.sort(key=lambda item: (-totals[_unit(item)], first[_unit(item)], position[item.nodeid]))


class _Recorder:
    """Adds up each test's phases (setup, call, teardown) and merges them into the cache."""

    def __init__(self, cache: pytest.Cache) -> None:
        self.cache = cache
        self.seen: dict[str, float] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Add a phase's duration (in the controller, reports arrive from every worker)."""
        nodeid = report.nodeid
        head, at, group = nodeid.rpartition("@")  # loadgroup's "path::test@group" suffix
        if at and "]" not in group and "::" not in group:
            nodeid = head
        self.seen[nodeid] = self.seen.get(nodeid, 0.0) + report.duration

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
