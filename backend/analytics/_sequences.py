"""Compact, read-only point storage behind :class:`~backend.analytics.types.MetricSeries`.

Timestamps are signed 64-bit integer microseconds since 1970-01-01T00:00:00Z
(``array('q')``), values doubles (``array('d')``). ``TimestampSequence`` and
``ValueSequence`` are the read-only views a series hands out; the ``_to_*`` and
``_check_*`` helpers convert and validate input in one pass and, on failure,
name the first offending index.
"""

from __future__ import annotations

import math
import operator
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from itertools import islice
from operator import lt
from types import MappingProxyType
from typing import Any, overload

from ._validate import (
    MAX_UTC,
    MIN_UTC,
    brief,
    check_aware_datetime,
    check_ordered,
    fail_type,
    fail_value,
    utcoffset_of,
)

__all__ = [
    "MetadataValue",
    "TimestampSequence",
    "ValueSequence",
    "datetime_to_epoch_us",
    "epoch_us_to_datetime",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ONE_US = timedelta(microseconds=1)
# The range of instants a datetime can represent (years 1..9999 in UTC), in epoch microseconds.
_MIN_US = (MIN_UTC - _EPOCH) // _ONE_US
_MAX_US = (MAX_UTC - _EPOCH) // _ONE_US

MetadataValue = str | int | float | bool | None


def datetime_to_epoch_us(value: datetime) -> int:
    """Microseconds since 1970-01-01T00:00:00Z of a timezone-aware ``datetime`` (exact)."""
    return (value - _EPOCH) // _ONE_US


def epoch_us_to_datetime(us: int) -> datetime:
    """The UTC ``datetime`` for ``us`` microseconds since the epoch (exact)."""
    # (timedelta * int is exact, and about twice as fast as timedelta(microseconds=us).)
    return _EPOCH + _ONE_US * us


def check_utc_datetime(owner: str, field: str, value: Any) -> datetime:
    """:func:`~backend.analytics._validate.check_aware_datetime`, then the same instant in UTC.

    Two datetimes of one ``ZoneInfo`` compare by wall clock, whatever their
    ``fold`` (PEP 495): 01:50 EDT sorts after 01:10 EST, an hour earlier. A
    value that is kept or compared is therefore taken in UTC, where wall
    clock and instant agree. A subclass (pandas' ``Timestamp``) becomes a
    ``datetime``, at whole microseconds as a series' timestamps are.
    """
    aware = check_aware_datetime(owner, field, value)
    if type(aware) is datetime and aware.tzinfo is timezone.utc:
        return aware
    return epoch_us_to_datetime(datetime_to_epoch_us(aware))


class _ArrayView:
    """Shared read-only behaviour of the two sequence views over an ``array``."""

    __slots__ = ("_data",)
    _data: array[Any]

    def __len__(self) -> int:
        return len(self._data)

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError  # pragma: no cover - each view yields its own item type

    def __hash__(self) -> int:
        # Equal to a tuple of the same items, so hashed like one.
        return hash(tuple(self))

    def __eq__(self, other: object) -> bool:
        """Equal to a view of the same type or a list/tuple holding the same items, in order."""
        if type(other) is type(self):
            return bool(self._data == other._data)
        if isinstance(other, (list, tuple)):
            return len(other) == len(self._data) and all(map(operator.eq, self, other))
        return NotImplemented

    def __getstate__(self) -> tuple[str, bytes]:
        return (self._data.typecode, self._data.tobytes())

    def __setstate__(self, state: tuple[str, bytes]) -> None:
        data = array(state[0])
        data.frombytes(state[1])
        object.__setattr__(self, "_data", data)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def as_memoryview(self) -> memoryview:
        """The underlying numbers as a read-only ``memoryview`` (no copy)."""
        return memoryview(self._data).toreadonly()


class ValueSequence(_ArrayView, Sequence[float]):
    """Read-only sequence of ``float`` values backed by an ``array('d')``."""

    __slots__ = ()

    def __init__(self, data: array[float]) -> None:
        object.__setattr__(self, "_data", data)

    @overload
    def __getitem__(self, index: int) -> float: ...
    @overload
    def __getitem__(self, index: slice) -> ValueSequence: ...
    def __getitem__(self, index: int | slice) -> float | ValueSequence:
        if isinstance(index, slice):
            return ValueSequence(self._data[index])
        value: float = self._data[index]
        return value

    def __iter__(self) -> Iterator[float]:
        return iter(self._data)

    def tolist(self) -> list[float]:
        """The values as a new ``list`` of ``float`` (fast, C-level copy)."""
        return self._data.tolist()

    def __repr__(self) -> str:
        n = len(self._data)
        if n <= 6:
            return f"ValueSequence({self._data.tolist()!r})"
        head = ", ".join(repr(v) for v in self._data[:3])
        return f"ValueSequence([{head}, ...] n={n})"


class TimestampSequence(_ArrayView, Sequence[datetime]):
    """Read-only sequence of UTC ``datetime`` backed by ``array('q')`` of epoch microseconds."""

    __slots__ = ()

    def __init__(self, data: array[int]) -> None:
        object.__setattr__(self, "_data", data)

    @overload
    def __getitem__(self, index: int) -> datetime: ...
    @overload
    def __getitem__(self, index: slice) -> TimestampSequence: ...
    def __getitem__(self, index: int | slice) -> datetime | TimestampSequence:
        if isinstance(index, slice):
            return TimestampSequence(self._data[index])
        us: int = self._data[index]
        return _EPOCH + _ONE_US * us

    def __iter__(self) -> Iterator[datetime]:
        epoch, one_us = _EPOCH, _ONE_US
        for us in self._data:
            yield epoch + one_us * us

    @property
    def epoch_us(self) -> memoryview:
        """Microseconds since the Unix epoch, as a read-only ``memoryview`` of ints."""
        return memoryview(self._data).toreadonly()

    def __repr__(self) -> str:
        n = len(self._data)
        if n == 0:
            return "TimestampSequence([])"
        first = self[0].isoformat()
        last = self[n - 1].isoformat()
        return f"TimestampSequence(n={n}, first={first}, last={last})"


def _timestamps_to_us(owner: str, timestamps: object) -> array[int]:
    """Convert datetimes to epoch microseconds in one pass; on failure, name the first bad index."""
    if isinstance(timestamps, TimestampSequence):
        return timestamps._data[:]
    if isinstance(timestamps, (str, bytes)) or not isinstance(timestamps, Iterable):
        fail_type(owner, "timestamps", "a sequence of timezone-aware datetimes", timestamps)
    check_ordered(owner, "timestamps", timestamps, "a sequence of timezone-aware datetimes")
    items = timestamps if isinstance(timestamps, (list, tuple)) else list(timestamps)
    epoch, one_us = _EPOCH, _ONE_US
    try:
        us = array("q", [(t - epoch) // one_us for t in items])
    except (TypeError, ValueError, OverflowError):
        pass
    else:
        _check_in_range(owner, "timestamps", us, items)
        if items and type(items[0]).__module__.startswith("pandas"):
            _refuse_nanoseconds(owner, items)
        return us
    # The first fault of any kind, in index order: a type, a naive time, or (as MetricSeries checks
    # once all are converted) a time not after the one before it.
    previous: int | None = None
    for i, t in enumerate(items):
        if not isinstance(t, datetime):
            raise TypeError(
                f"{owner}.timestamps[{i}]: expected a timezone-aware datetime, "
                f"got {brief(t)} ({type(t).__name__})"
            )
        offset = utcoffset_of(t, f"{owner}.timestamps[{i}]: expected")
        if offset is None:
            raise ValueError(f"{owner}.timestamps[{i}]: expected a timezone-aware datetime, got naive {t!r}")
        try:
            current = array("q", [(t - epoch) // one_us])[0]
        except (TypeError, ValueError, OverflowError) as exc:
            raise ValueError(f"{owner}.timestamps[{i}]: cannot convert {brief(t)}: {exc}") from exc
        if previous is not None and current <= previous:
            raise ValueError(
                f"{owner}.timestamps[{i}]: expected strictly ascending, got {t.isoformat()} after "
                f"{items[i - 1].isoformat()}"
            )
        previous = current
    raise AssertionError("unreachable: conversion failed but no item is invalid")  # pragma: no cover


def _refuse_nanoseconds(owner: str, items: Sequence[object]) -> None:
    """Name the first pandas ``Timestamp`` finer than a microsecond (a series holds microseconds).

    The conversion floors them silently: two instants 800 ns apart became one, refused as "not
    ascending" with two equal times shown.
    """
    for i, t in enumerate(items):
        if getattr(t, "nanosecond", 0):
            raise ValueError(
                f"{owner}.timestamps[{i}]: {t} is finer than a microsecond, which a series holds; round "
                "the timestamps first (Timestamp.round('us')), or load the frame with "
                "backend.analytics.io.from_frame, which rounds them and reports each"
            )


def _is_bool_type(kind: type) -> bool:
    """``bool`` or numpy's ``bool_`` (``numpy.bool`` in numpy 2), which is no ``bool`` subclass."""
    return issubclass(kind, bool) or (kind.__module__ == "numpy" and kind.__name__ in ("bool", "bool_"))


_AT_ITEM_LIMIT = 16  # unaligned matches examined before giving up and scanning the items


def _may_hold(data: array[Any], *items: float) -> bool:
    """Whether ``data`` may hold one of ``items`` (False: it certainly does not).

    A byte search (C speed, no boxing): a match counts only at an item
    boundary; after a few matches that are not, the answer is a cautious True.
    """
    raw = data.tobytes()
    size = data.itemsize
    for item in items:
        pattern = array(data.typecode, [item]).tobytes()
        at = raw.find(pattern)
        for _ in range(_AT_ITEM_LIMIT):
            if at < 0:
                break
            if at % size == 0:
                return True
            at = raw.find(pattern, at + 1)
        else:
            return True
    return False


def _refuse_bools(owner: str, field: str, items: Iterable[object], converted: array[Any]) -> None:
    """Raise ``TypeError`` naming the first ``bool`` (or numpy ``bool_``) among ``items``.

    ``array()`` turns ``True``/``False`` into 1/0 without a word. ``converted``
    is ``items`` as an array: unless it holds a 0 or a 1 (a byte search, a few
    ns a point), no item was a bool and the items are not looked at again;
    otherwise one pass over their types (about 20 ns a point) decides.
    """
    if isinstance(items, array) or not _may_hold(converted, 0, 1):
        return  # (an array holds no bools)
    kinds = [kind for kind in set(map(type, items)) if _is_bool_type(kind)]
    if not kinds:
        return
    i, v = next((i, v) for i, v in enumerate(items) if type(v) in kinds)
    expected = "an int" if converted.typecode == "q" else "a finite real number"
    raise TypeError(f"{owner}.{field}[{i}]: expected {expected}, got {brief(v)} ({type(v).__name__})")


def _values_to_array(owner: str, values: object) -> array[float]:
    """Convert values to ``array('d')``; on failure, name the first bad index."""
    if isinstance(values, ValueSequence):
        return values._data[:]
    if isinstance(values, array) and values.typecode == "d":
        return values[:]
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        fail_type(owner, "values", "a sequence of finite real numbers", values)
    check_ordered(owner, "values", values, "a sequence of finite real numbers")
    dtype = getattr(values, "dtype", None)
    if getattr(dtype, "kind", None) == "c":
        # A numpy or pandas array of complex numbers: array("d") would keep the real parts with only a
        # ComplexWarning (a complex scalar's __float__ drops the imaginary part).
        raise TypeError(
            f"{owner}.values[0]: expected a finite real number, "
            f"got an array of complex numbers (dtype {dtype})"
        )
    items = values if isinstance(values, (list, tuple, array)) else list(values)
    try:
        converted = array("d", items)
    except (TypeError, OverflowError, ValueError):
        pass
    else:
        _refuse_bools(owner, "values", items, converted)
        _refuse_unconvertible(owner, items, converted)
        return converted
    for i, v in enumerate(items):
        if isinstance(v, (str, bytes)) or not hasattr(v, "__float__") or _is_bool_type(type(v)):
            raise TypeError(
                f"{owner}.values[{i}]: expected a finite real number, got {brief(v)} ({type(v).__name__})"
            )
        if isinstance(v, Decimal) and v.is_nan():  # (a signalling NaN does not convert at all)
            raise ValueError(f"{owner}.values[{i}]: expected a finite number, got {v!r}")
        try:
            number = array("d", [v])[0]
        except OverflowError:
            raise ValueError(
                f"{owner}.values[{i}]: expected a finite real number, got {brief(v)} (too large for a float)"
            ) from None
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"{owner}.values[{i}]: expected a finite real number, got {brief(v)} ({type(v).__name__})"
            ) from exc
        if not math.isfinite(number):  # (the first fault of any kind: a nan before a str is the first)
            raise ValueError(f"{owner}.values[{i}]: expected a finite number, got {number!r}")
    raise AssertionError("unreachable: conversion failed but no item is invalid")  # pragma: no cover


def _refuse_unconvertible(owner: str, items: Sequence[object], converted: array[float]) -> None:
    """Name a finite number that became inf on conversion (``Decimal('1e400')``: "got inf" would mislead).

    Non-finite values that were so already are left to :func:`_check_finite`.
    """
    total = sum(converted)
    if total - total == 0.0 or isinstance(items, array):
        return
    for i, v in enumerate(converted):
        item = items[i]
        if not math.isfinite(v) and isinstance(item, Decimal) and item.is_finite():
            raise ValueError(
                f"{owner}.values[{i}]: expected a finite real number, "
                f"got {brief(item)} (too large for a float)"
            )


def _check_finite(owner: str, values: array[float]) -> None:
    # Fast path: the sum of finite values is finite unless it overflows; nan/inf poison it.
    total = sum(values)
    if total - total == 0.0:
        return
    for i, v in enumerate(values):
        if not math.isfinite(v):
            raise ValueError(f"{owner}.values[{i}]: expected a finite number, got {v!r}")


def _check_in_range(owner: str, field: str, us: array[int], items: Sequence[object] | None = None) -> None:
    """Every timestamp must lie within years 1..9999 in UTC; name the first that does not.

    ``items``: the caller's original timestamps, shown in the message when given.
    """
    if not us or (min(us) >= _MIN_US and max(us) <= _MAX_US):
        return
    i = next(k for k, t in enumerate(us) if not _MIN_US <= t <= _MAX_US)
    item = items[i] if items is not None else None
    if isinstance(item, datetime):
        got = item.isoformat()
    else:
        got = brief(item) if items is not None else f"{us[i]} microseconds since the epoch"
    raise ValueError(f"{owner}.{field}[{i}]: expected an instant within years 1..9999 in UTC, got {got}")


def _check_ascending(owner: str, us: array[int]) -> None:
    if all(map(lt, us, islice(us, 1, None))):
        return
    for i in range(1, len(us)):
        if us[i] <= us[i - 1]:
            prev, cur = epoch_us_to_datetime(us[i - 1]), epoch_us_to_datetime(us[i])
            raise ValueError(f"{owner}.timestamps[{i}]: expected strictly ascending, got {cur} after {prev}")


def _check_metadata(owner: str, metadata: object) -> Mapping[str, MetadataValue]:
    if metadata is None:
        return MappingProxyType({})
    if not isinstance(metadata, Mapping):
        fail_type(owner, "metadata", "a mapping of str to str/int/float/bool/None, or None", metadata)
    copy: dict[str, MetadataValue] = {}
    for key, value in metadata.items():
        if not isinstance(key, str):
            fail_type(owner, "metadata key", "a str", key)
        if value is not None and not isinstance(value, (str, int, float, bool)):
            fail_type(owner, f"metadata[{brief(key)}]", "a str, int, float, bool or None", value)
        if isinstance(value, float) and not math.isfinite(value):
            fail_value(owner, f"metadata[{brief(key)}]", "a finite float (JSON-safe)", value)
        copy[key] = value
    return MappingProxyType(copy)
