"""Longest work first: the order pytest-xdist hands out its groups of tests.

`make test` runs three workers with ``--dist loadgroup --no-loadscope-reorder``: each worker
takes the next group in collection order when it runs dry. pytest-xdist's own reordering
sorts groups by how many tests they hold, which sends the few-test, many-minute groups (one
backbone pair trains two ImageNet-scale networks) to the end, where one worker finishes them
while the other has nothing left. Handing out the longest groups first, and the many short
ones last, lets the workers end together (longest-processing-time-first scheduling).

A group's length is its tests' durations in the last run (kept in pytest's cache by
`DurationRecorder`); a test never timed here, as on a fresh clone, gets `estimated_seconds`.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

CACHE_KEY = "deepguard/durations"
# Guesses for tests without a recorded duration: a from-scratch backbone run at 32 pixels
# takes about a minute on 2 cores, and its cost grows with the pixels of its side.
BACKBONE_RUN_SECONDS = 60.0
SLOW_TEST_SECONDS = 10.0
TEST_SECONDS = 0.5


def base_nodeid(nodeid: str) -> str:
    """The test's id without the ``@group`` suffix pytest-xdist adds."""
    return nodeid.split("@", 1)[0]


def estimated_seconds(item: pytest.Item) -> float:
    """A guess at a test's duration from what it does: backbones it trains, its markers."""
    from tests.helpers.zoo import learning_size, trains_a_backbone

    callspec = getattr(item, "callspec", None)
    params = callspec.params if callspec else {}
    if "pair" in params and trains_a_backbone(params["pair"]):
        backbones = [entry.name for entry in params["pair"] if entry.group == "backbone"]
        return sum(BACKBONE_RUN_SECONDS * (learning_size(name) / 32) ** 2 for name in backbones)
    return SLOW_TEST_SECONDS if item.get_closest_marker("slow") else TEST_SECONDS


def group_of(item: pytest.Item) -> str:
    """The item's pytest-xdist group (tests/conftest.py gives every item one)."""
    marker = item.get_closest_marker("xdist_group")
    return str(marker.args[0]) if marker and marker.args else item.location[0]


def longest_groups_first(items: list[pytest.Item], recorded: dict[str, float]) -> None:
    """Reorder `items` in place: groups by total duration, longest first; within a group
    and between equal groups, the collection order."""
    seconds: dict[str, float] = defaultdict(float)
    for item in items:
        duration = recorded.get(base_nodeid(item.nodeid))
        seconds[group_of(item)] += estimated_seconds(item) if duration is None else duration
    first_seen: dict[str, int] = {}
    for index, item in enumerate(items):
        first_seen.setdefault(group_of(item), index)
    items.sort(key=lambda item: (-seconds[group_of(item)], first_seen[group_of(item)]))


class DurationRecorder:
    """Keeps each test's duration (setup, call and teardown) in pytest's cache.

    Registered in the controlling process only, so workers never write the cache at once;
    tests that did not run this time keep the duration they had.
    """

    def __init__(self, config: pytest.Config):
        self.config = config
        self.durations: dict[str, float] = defaultdict(float)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.durations[base_nodeid(report.nodeid)] += report.duration

    def pytest_sessionfinish(self) -> None:
        recorded = dict(self.config.cache.get(CACHE_KEY, {}))
        recorded.update({nodeid: round(seconds, 2) for nodeid, seconds in self.durations.items()})
        self.config.cache.set(CACHE_KEY, recorded)


def recorded_durations(config: pytest.Config) -> dict[str, float]:
    cache = getattr(config, "cache", None)  # absent with -p no:cacheprovider
    return dict(cache.get(CACHE_KEY, {})) if cache is not None else {}
