"""Argument checks with the library's uniform error messages, for engine and plugin authors.

Each check returns the value (converted where it says so) or raises
``TypeError`` for a wrong type and ``ValueError`` for a bad value, with a
message that names the owner and the argument and echoes the value::

    MedianMADEngine: history_points must be a positive int, got 0

>>> check_positive_int("MyEngine", "window_size_points", 10)
10
>>> check_positive_real("MyEngine", "z_threshold", 0)
Traceback (most recent call last):
...
ValueError: MyEngine: z_threshold must be a positive finite number, got 0

``MAX_POINTS`` (2**21) is the largest setting counted in points (a window, a
stride, a history, a warm-up) that the built-in engines accept, and
:func:`check_points` the check that enforces it; a plugin engine built on
``PointScoringEngine`` gets it for every keyword setting named ``*_points``.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

from ._validate import (
    MAX_POINTS,
    check_bool,
    check_non_negative_int,
    check_points,
    check_positive_int,
    check_real,
    fail_type,
    fail_value,
)

__all__ = [
    "MAX_POINTS",
    "check_bool",
    "check_non_negative_int",
    "check_points",
    "check_positive_int",
    "check_positive_real",
    "check_real",
    "fail_type",
    "fail_value",
]


def check_positive_real(owner: str, field: str, value: object) -> float:
    """Return ``value`` as a float if it is a finite real number greater than zero."""
    checked = check_real(owner, field, value)
    if checked <= 0.0:
        fail_value(owner, field, "a positive finite number", value)
    return checked
