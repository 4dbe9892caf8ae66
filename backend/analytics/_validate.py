"""Shared argument checks that produce the library's uniform error messages.

Every message has the shape ``"<owner>: <field> must be <expected>, got <value!r>"``
or, for sequence items, ``"<owner>.<field>[<i>]: expected <expected>, got <value!r>"``.
The value is shown by :func:`brief`: a ``repr`` bounded in length and nesting
depth, so that a huge or deeply nested argument gives a short message rather
than a ``RecursionError`` or a megabyte of text.
"""

from __future__ import annotations

import math
import numbers
import reprlib
from collections.abc import Mapping, Set
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum
from typing import Any, NoReturn, TypeVar

E = TypeVar("E", bound=Enum)

__all__ = [
    "MAX_POINTS",
    "MAX_UTC",
    "MAX_UTC_OFFSET_MINUTES",
    "MIN_UTC",
    "brief",
    "check_aware_datetime",
    "check_bool",
    "check_enum",
    "check_id",
    "check_non_negative_int",
    "check_optional_id",
    "check_ordered",
    "check_points",
    "check_positive_int",
    "check_positive_timedelta",
    "check_real",
    "check_text",
    "check_unit_interval",
    "check_utc_offset",
    "fail_type",
    "fail_value",
]


_REPR = reprlib.Repr()
_REPR.maxlevel = 3
_REPR.maxstring = 80
_REPR.maxother = 120
_REPR.maxlong = 40
_REPR.maxlist = _REPR.maxtuple = _REPR.maxset = _REPR.maxfrozenset = _REPR.maxdeque = 6
_REPR.maxarray = 6
_REPR.maxdict = 4
_BRIEF_LIMIT = 160


def brief(value: object) -> str:
    """``repr(value)`` for an error message: at most 160 characters and 3 levels of nesting.

    Containers show their first few items (``[1, 2, 3, 4, 5, 6, ...]``), long
    strings and numbers are cut in the middle (``'aaa...zzz'``), and an object
    whose ``repr`` itself fails (or recurses without end) is shown by its type
    name (``<TypeName instance at 0x...>``).

    >>> brief(list(range(100)))
    '[0, 1, 2, 3, 4, 5, ...]'
    >>> nested: list[object] = []
    >>> for _ in range(100_000):
    ...     nested = [nested]
    >>> brief(nested)
    '[[[[...]]]]'
    """
    try:
        text = _REPR.repr(value)
    except Exception:  # a broken __repr__ must not replace the error being reported
        return f"<{type(value).__name__} object>"
    if len(text) > _BRIEF_LIMIT:
        text = f"{text[: _BRIEF_LIMIT - 20]}...({len(text)} chars)"
    return text


def fail_type(owner: str, field: str, expected: str, got: object) -> NoReturn:
    """Raise ``TypeError`` with the uniform message."""
    raise TypeError(f"{owner}: {field} must be {expected}, got {brief(got)} ({type(got).__name__})")


def fail_value(owner: str, field: str, expected: str, got: object) -> NoReturn:
    """Raise ``ValueError`` with the uniform message."""
    raise ValueError(f"{owner}: {field} must be {expected}, got {brief(got)}")


def check_id(owner: str, field: str, value: object) -> str:
    """Return ``value`` if it is a non-empty ``str`` of Unicode text.

    A lone surrogate (``"\\ud800"``, which no UTF-8 file, database or wire
    format can hold) is a ``ValueError`` here rather than an encoding error
    deep inside a store or an exporter.
    """
    if not isinstance(value, str):
        fail_type(owner, field, "a non-empty str", value)
    if not value:
        fail_value(owner, field, "a non-empty str", value)
    if not value.isascii():
        check_text(owner, field, value)
    return value


def check_text(owner: str, field: str, value: str) -> str:
    """Return ``value`` if it encodes as UTF-8 (holds no lone surrogate)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"{owner}: {field} must be Unicode text that encodes as UTF-8, got {brief(value)} "
            f"(a lone surrogate {value[exc.start]!r} at index {exc.start})"
        ) from None
    return value


def check_optional_id(owner: str, field: str, value: object) -> str | None:
    """Return ``value`` if it is ``None`` or a non-empty ``str``."""
    if value is None:
        return None
    return check_id(owner, field, value)


def check_positive_int(owner: str, field: str, value: object) -> int:
    """Return ``value`` if it is an ``int`` (not ``bool``) greater than zero."""
    if isinstance(value, bool) or not isinstance(value, int):
        fail_type(owner, field, "a positive int", value)
    if value <= 0:
        fail_value(owner, field, "a positive int", value)
    return value


MAX_UTC_OFFSET_MINUTES = 14 * 60  # UTC-14:00 .. UTC+14:00 spans every time zone in use


def check_utc_offset(owner: str, value: object, field: str = "utc_offset_minutes") -> int:
    """Return ``value`` if it is an int number of minutes in [-840, 840] (an offset from UTC)."""
    expected = f"an int number of minutes in [-{MAX_UTC_OFFSET_MINUTES}, {MAX_UTC_OFFSET_MINUTES}]"
    if isinstance(value, bool) or not isinstance(value, int):
        fail_type(owner, field, expected, value)
    if not -MAX_UTC_OFFSET_MINUTES <= value <= MAX_UTC_OFFSET_MINUTES:
        fail_value(owner, field, expected, value)
    return value


def check_real(owner: str, field: str, value: object) -> float:
    """Return ``value`` as a finite ``float``; reject bools, non-numbers, nan, inf."""
    if type(value) is float:
        if math.isfinite(value):
            return value
        fail_value(owner, field, "a finite real number", value)
    # A Decimal (what database drivers give for NUMERIC columns) is a real number, as a series takes it.
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, Decimal)):
        fail_type(owner, field, "a finite real number", value)
    if isinstance(value, Decimal) and not value.is_finite():
        fail_value(owner, field, "a finite real number", value)
    try:
        as_float = float(value)
    except OverflowError:
        fail_value(owner, field, "a finite real number (too large for a float)", value)
    if not math.isfinite(as_float):  # (a finite Decimal past a float's range converts to inf)
        fail_value(owner, field, "a finite real number (too large for a float)", value)
    return as_float


def check_unit_interval(owner: str, field: str, value: object) -> float:
    """Return ``value`` as a float if it is a finite real number in [0, 1]."""
    as_float = check_real(owner, field, value)
    if not 0.0 <= as_float <= 1.0:
        fail_value(owner, field, "in [0, 1]", value)
    return as_float + 0.0  # (-0.0 becomes 0.0: equal scores serialise the same, "0.0", whatever came in)


def check_positive_timedelta(owner: str, field: str, value: object) -> timedelta:
    """Return ``value`` if it is a ``timedelta`` greater than zero."""
    if not isinstance(value, timedelta):
        fail_type(owner, field, "a positive datetime.timedelta", value)
    if value <= timedelta(0):
        fail_value(owner, field, "a positive datetime.timedelta", value)
    return value


# The instants a datetime can hold, in UTC: an aware datetime near either end whose
# offset moves it outside (0001-01-01T00:00+14:00) cannot be converted to UTC.
MIN_UTC = datetime.min.replace(tzinfo=timezone.utc)
MAX_UTC = datetime.max.replace(tzinfo=timezone.utc)


def utcoffset_of(value: datetime, where: str) -> timedelta | None:
    """``value.utcoffset()``; where that fails (pandas' NaT), a ValueError led by ``where``."""
    try:
        return value.utcoffset()
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValueError(
            f"{where} a timezone-aware datetime, got {brief(value)} ({type(value).__name__}), "
            f"whose utcoffset() fails: {exc}"
        ) from None


def check_aware_datetime(owner: str, field: str, value: Any) -> datetime:
    """Return ``value`` if it is a timezone-aware ``datetime`` whose UTC instant is in years 1..9999."""
    if not isinstance(value, datetime):
        fail_type(owner, field, "a timezone-aware datetime", value)
    offset = utcoffset_of(value, f"{owner}: {field} must be")
    if offset is None:
        fail_value(owner, field, "a timezone-aware datetime (tzinfo with a UTC offset)", value)
    if not MIN_UTC <= value <= MAX_UTC:
        raise ValueError(
            f"{owner}: {field} must be a datetime within years 1..9999 once converted to UTC, "
            f"got {value.isoformat()}"
        )
    return value


def check_ordered(owner: str, field: str, value: object, expected: str) -> None:
    """Reject a ``set``, a ``dict`` or another unordered container given where a sequence belongs.

    ``expected`` says what was expected (for example ``"a sequence of finite real numbers"``).
    """
    if isinstance(value, (Set, Mapping)):
        unordered = f"{expected} (an ordered sequence, not an unordered {type(value).__name__})"
        fail_type(owner, field, unordered, value)


# The largest window, stride, baseline, history, period or warm-up, in points, that an engine
# setting may ask for: 2**21 = 2,097,152 points, three and a half weeks at one point a second
# (a weekly period at one second is 604,800 points). A live stream buffers a small multiple
# of its settings, so this bounds its memory: about 100 MB a setting at the ~50 bytes a
# buffered point costs in Python lists, instead of unbounded growth with the series.
MAX_POINTS = 2**21


def check_points(
    owner: str, field: str, value: object, *, minimum: int = 1, maximum: int = MAX_POINTS
) -> int:
    """Return ``value`` if it is an ``int`` (not ``bool``) in ``[minimum, maximum]``.

    For engine settings counted in points (window sizes, strides, baselines,
    histories, seasonal periods, warm-ups): the default ``maximum`` is
    :data:`MAX_POINTS`, so no configuration can ask a stream to buffer more
    than that. The message states both bounds.
    """
    expected = f"an int in [{minimum}, {maximum}]"
    if isinstance(value, bool) or not isinstance(value, int):
        fail_type(owner, field, expected, value)
    if not minimum <= value <= maximum:
        fail_value(owner, field, expected, value)
    return value


def check_bool(owner: str, field: str, value: object) -> bool:
    """Return ``value`` if it is a ``bool`` (an int or a string is not)."""
    if not isinstance(value, bool):
        fail_type(owner, field, "a bool", value)
    return value


def check_enum(owner: str, field: str, enum_cls: type[E], value: object) -> E:
    """Return ``value`` as a member of ``enum_cls``, accepting the member's value (its str)."""
    if isinstance(value, enum_cls):
        return value
    if not isinstance(value, str):
        fail_type(owner, field, f"an {enum_cls.__name__} or its str value", value)
    try:
        return enum_cls(value)
    except ValueError:
        allowed = ", ".join(repr(member.value) for member in enum_cls)
        fail_value(owner, field, f"one of {allowed}", value)


def check_non_negative_int(owner: str, field: str, value: object) -> int:
    """Return ``value`` if it is an ``int`` (not ``bool``) greater than or equal to zero."""
    if isinstance(value, bool) or not isinstance(value, int):
        fail_type(owner, field, "a non-negative int", value)
    if value < 0:
        fail_value(owner, field, "a non-negative int", value)
    return value
