"""The test run's own scheduling: pytest-xdist gets the longest groups first."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from tests.helpers.scheduling import base_nodeid, estimated_seconds, longest_groups_first
from tests.helpers.zoo import ZooEntry


@dataclass
class FakeItem:
    """What the scheduler reads of a collected test."""

    nodeid: str
    group: str
    slow: bool = False
    params: dict = field(default_factory=dict)

    @property
    def location(self):
        return (self.nodeid.split("::")[0], 0, self.nodeid)

    @property
    def callspec(self):
        return type("CallSpec", (), {"params": self.params})() if self.params else None

    def get_closest_marker(self, name):
        if name == "xdist_group":
            return pytest.mark.xdist_group(self.group).mark
        return pytest.mark.slow.mark if name == "slow" and self.slow else None


def test_longest_groups_go_first_whatever_their_test_count():
    items = [
        FakeItem("tests/a.py::one", "a"),
        FakeItem("tests/a.py::two", "a"),
        FakeItem("tests/a.py::three", "a"),
        FakeItem("tests/b.py::long", "b"),
        FakeItem("tests/c.py::medium", "c"),
        FakeItem("tests/c.py::short", "c"),
    ]
    recorded = {"tests/a.py::one": 1.0, "tests/a.py::two": 1.0, "tests/b.py::long": 90.0}
    recorded |= {"tests/c.py::medium": 20.0, "tests/c.py::short": 0.1}
    longest_groups_first(items, recorded)  # type: ignore[arg-type]
    assert [item.nodeid.split("::")[1] for item in items] == [
        "long",
        "medium",
        "short",  # a group's tests stay together, in their own order
        "one",
        "two",
        "three",  # not recorded: estimated at TEST_SECONDS
    ]


def test_a_fresh_clone_estimates_backbone_runs_by_their_pixels():
    small = FakeItem("t::p[a]", "z1", params={"pair": (ZooEntry("backbone", "small_cnn"),) * 2})
    xception = FakeItem("t::p[b]", "z2", params={"pair": (ZooEntry("backbone", "xception"),)})
    presets = FakeItem(
        "t::p[c]", "z3", slow=True, params={"pair": (ZooEntry("experiment", "npr"),)}
    )
    assert estimated_seconds(xception) > estimated_seconds(small) > estimated_seconds(presets)  # type: ignore[arg-type]
    items = [presets, small, xception]
    longest_groups_first(items, {})  # type: ignore[arg-type]
    assert items == [xception, small, presets]


def test_recorded_ids_drop_the_xdist_group_suffix():
    assert base_nodeid("tests/a.py::t[x]@zoo-backbone=a+backbone=b") == "tests/a.py::t[x]"
