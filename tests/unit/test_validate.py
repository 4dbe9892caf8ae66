"""Unit tests of backend.analytics._validate: bounded reprs and the bounded point-count check."""

from __future__ import annotations

import pytest

from backend.analytics._validate import MAX_POINTS, brief, check_points


def test_brief_bounds_length_and_depth() -> None:
    """brief() cuts long containers, strings and deep nesting; short values read as repr()."""
    assert brief(0.5) == "0.5" and brief("abc") == "'abc'" and brief(None) == "None"
    assert brief(list(range(100))) == "[0, 1, 2, 3, 4, 5, ...]"
    nested: list[object] = []
    for _ in range(100_000):
        nested = [nested]
    assert brief(nested) == "[[[[...]]]]"
    assert len(brief("x" * 1_000_000)) <= 160


def test_brief_survives_a_broken_repr() -> None:
    """An object whose __repr__ raises (or recurses forever) is shown by its type name."""

    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("no repr for you")

    class Endless:
        def __repr__(self) -> str:
            return repr(self)

    assert brief(Broken()).startswith("<Broken ")
    assert brief(Endless()).startswith("<Endless ")


def test_check_points_accepts_its_bounds() -> None:
    """check_points returns ints in [minimum, maximum], both ends included."""
    assert check_points("E", "window_size_points", 1) == 1
    assert check_points("E", "window_size_points", MAX_POINTS) == MAX_POINTS
    assert check_points("E", "rest_points", 0, minimum=0) == 0
    assert check_points("E", "period", 10, maximum=10) == 10


@pytest.mark.parametrize("value", [0, -1, MAX_POINTS + 1, 10**18])
def test_check_points_refuses_values_outside(value: int) -> None:
    """A count outside [1, MAX_POINTS] is a ValueError stating both bounds."""
    with pytest.raises(
        ValueError, match=rf"^E: window_size_points must be an int in \[1, {MAX_POINTS}\], got {value}$"
    ):
        check_points("E", "window_size_points", value)


@pytest.mark.parametrize("value", [1.0, "5", True, None])
def test_check_points_refuses_non_ints(value: object) -> None:
    """A float, str, bool or None is a TypeError naming the field and the type."""
    with pytest.raises(TypeError, match=r"E: baseline_points must be an int in \[1, \d+\], got .* \("):
        check_points("E", "baseline_points", value)
