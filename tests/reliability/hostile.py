"""Hostile inputs for the reliability suite: junk arguments, extreme valid values, hostile ids.

``junk`` draws values of every kind a caller might pass by mistake or on
purpose: ``None``, bools, huge and negative ints (beyond 64 bits, beyond
Python's 4,300-digit ``str`` limit), nan and infinities, huge ``Fraction``s,
strings, bytes, naive and out-of-range datetimes, extreme timedeltas, sets,
dicts, and lists nested tens of thousands deep. :func:`clean_error` is the one
assertion the fuzz tests make about a refusal: a ``ValueError`` or
``TypeError`` whose message names the argument. Anything else (an
``OverflowError``, a ``RecursionError``, a ``MemoryError``, a raw ``sqlite3``
error, a ``UnicodeEncodeError`` that names nothing) escapes the ``try`` and
fails the test.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from fractions import Fraction
from typing import Any

from hypothesis import strategies as st

from backend.analytics._sequences import _MAX_US, _MIN_US
from backend.analytics.types import epoch_us_to_datetime

UTC = timezone.utc

# Every fixed UTC offset a tzinfo may have (strictly inside +-24 h), minute-aligned, plus 0 often.
offsets = st.one_of(
    st.just(UTC),
    st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m))),
)


def _nest(depth: int) -> object:
    nested: list[object] = []
    for _ in range(depth):
        nested = [nested]
    return nested


class _BadRepr:
    """An object whose ``repr`` raises: an error message must not depend on it."""

    def __repr__(self) -> str:
        raise RuntimeError("repr refused")


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([2**63 - 1, 2**63, -(2**63) - 1, 2**64, 10**30, -(10**30), 10**5000]),
    st.floats(),
    st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308]),
    st.just(Fraction(10**400, 3)),
    st.text(max_size=20),
    st.sampled_from(["", " ", "\x00", "\ud800", "'; DROP TABLE series; --", "%", "_", "1e999"]),
    st.binary(max_size=10),
    st.datetimes(),  # naive
    st.datetimes(timezones=offsets),  # aware, some outside years 1..9999 once in UTC
    st.timedeltas(),
    st.sampled_from([timedelta.max, timedelta.min, timedelta(0), timedelta(microseconds=-1)]),
    st.builds(_BadRepr),
    st.just(object()),
)

junk: st.SearchStrategy[Any] = st.one_of(
    _scalars,
    st.lists(_scalars, max_size=4),
    st.tuples(_scalars),
    st.frozensets(st.integers(), max_size=3),
    st.sets(st.floats(allow_nan=False), max_size=3),
    st.dictionaries(st.text(max_size=3), _scalars, max_size=3),
    st.integers(1_000, 60_000).map(_nest),
)

# Ids: any Unicode text (hypothesis leaves out lone surrogates), plus the classic hostile ones.
HOSTILE_IDS = [
    "'",
    '"',
    "''",
    "%",
    "_",
    "%%",
    "a%",
    "a_",
    "\\",
    "*",
    "?",
    "--",
    "/*",
    "a' OR '1'='1",
    "x'; DROP TABLE series; --",
    "1; DELETE FROM hot_points",
    "acme",
    "Acme",
    "ACME",
    "acme ",
    " acme",
    "acme\x00evil",
    "ａｃｍｅ",  # fullwidth
    "acmé",
    "acme\u0301",  # combining accent: a different string from "acmé" (no normalisation)
    "\u202eemca",  # right-to-left override
    "🦀",
    "租户",
    "x" * 1000,
]
ids = st.one_of(st.sampled_from(HOSTILE_IDS), st.text(min_size=1, max_size=12))


@st.composite
def instants(draw: st.DrawFn) -> datetime:
    """An aware datetime anywhere in years 1..9999 (in UTC), shown at some UTC offset when possible."""
    us = draw(st.one_of(st.integers(_MIN_US, _MAX_US), st.sampled_from([_MIN_US, _MAX_US, 0, -1])))
    utc = epoch_us_to_datetime(us)
    try:
        return utc.astimezone(draw(offsets))
    except OverflowError:  # the same instant at that offset is outside what a datetime can show
        return utc


@st.composite
def ascending_us(draw: st.DrawFn, max_size: int = 12) -> list[int]:
    """Strictly ascending epoch microseconds spread over years 1..9999 (ends included)."""
    picks = draw(
        st.lists(
            st.one_of(st.integers(_MIN_US, _MAX_US), st.sampled_from([_MIN_US, _MAX_US])),
            max_size=max_size,
            unique=True,
        )
    )
    return sorted(picks)


finite = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, -0.0, 5e-324, -5e-324, 1.7976931348623157e308, -1.7976931348623157e308]),
)
unit = st.one_of(st.floats(0.0, 1.0), st.sampled_from([0.0, 5e-324, 0.5, 1.0]))


def clean_error(exc: BaseException, *names: str) -> None:
    """Assert ``exc`` is a ValueError/TypeError whose message names one of ``names``."""
    assert isinstance(exc, (ValueError, TypeError)), f"{type(exc).__name__}: {exc}"
    assert not isinstance(exc, UnicodeError), f"raw encoding error: {exc}"
    message = str(exc)
    assert any(name in message for name in names), f"message names none of {names}: {message}"
    assert len(message) < 2_000, f"message of {len(message)} characters"


@contextmanager
def refused_cleanly(*names: str) -> Iterator[None]:
    """The body either succeeds or raises a clean ValueError/TypeError naming one of ``names``."""
    try:
        yield
    except (ValueError, TypeError) as exc:
        clean_error(exc, *names)


def call(fn: Callable[..., Any], *args: Any, names: tuple[str, ...], **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``, or ``None`` after a clean refusal naming one of ``names``."""
    try:
        return fn(*args, **kwargs)
    except (ValueError, TypeError) as exc:
        clean_error(exc, *names)
        return None
