"""Turning the timestamps found in files and frames into epoch microseconds, never guessing.

Formats (``timestamp_format=``):

* ``None`` or ``"iso"``: ISO 8601 (``2024-05-01T10:00:00+02:00``, ``...Z``,
  a space instead of ``T``). Seconds finer than a microsecond
  (``...00.1234567Z``) are rounded to the nearest microsecond, and the row is
  reported as changed.
* ``"epoch_s"``, ``"epoch_ms"``, ``"epoch_us"``: a number of seconds,
  milliseconds or microseconds since 1970-01-01T00:00:00Z (UTC by
  definition; decimals allowed). A value finer than a microsecond is rounded
  to the nearest microsecond, and the row is reported as changed.
* any other string: a :func:`datetime.strptime` format (``"%d/%m/%Y %H:%M"``).

A timestamp without a UTC offset (naive) is refused unless ``timezone=`` names
the zone it was written in; then a local time that the zone skips (clocks
went forward) or repeats (clocks went back) is refused too, since either
reading would be a guess. A timestamp with an offset keeps its own offset.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone, tzinfo
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from .._iso import parse_iso
from .._sequences import _MAX_US, _MIN_US, datetime_to_epoch_us, epoch_us_to_datetime

__all__ = ["EPOCH_FORMATS", "TimestampError", "TimestampParser", "resolve_timezone"]

EPOCH_FORMATS = {"epoch_s": 1_000_000, "epoch_ms": 1_000, "epoch_us": 1}


class TimestampError(Exception):
    """A timestamp that cannot be used; ``str(exc)`` is the reason shown in the load report."""


def resolve_timezone(owner: str, value: object) -> tzinfo | None:
    """``None``, a ``tzinfo``, or an IANA zone name (``"Europe/Paris"``, ``"UTC"``) as a ``tzinfo``."""
    if value is None or isinstance(value, tzinfo):
        return value
    if not isinstance(value, str):
        raise TypeError(
            f"{owner}: timezone must be None, a tzinfo or an IANA zone name, got {value!r} "
            f"({type(value).__name__})"
        )
    # zoneinfo reads sysconfig on import: load it only when a zone is named.
    import zoneinfo  # noqa: PLC0415

    try:
        return zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder such as 'America'
        raise ValueError(
            f"{owner}: timezone must be an IANA zone name such as 'UTC' or 'Europe/Paris', got {value!r}"
        ) from None


# A decimal fraction (of the seconds, or of an offset's seconds) in an ISO 8601 time.
_FRACTION = re.compile(r"[.,]([0-9]+)")


def _parse_iso(text: str) -> tuple[datetime, bool]:
    """``text`` as a datetime and whether its seconds were rounded to the microsecond.

    ``datetime.fromisoformat`` keeps the first 6 digits of a longer fraction and
    drops the rest: here the fraction is rounded half to even instead (as the
    epoch formats round), and the caller reports the row as changed. An offset
    finer than a microsecond is refused. Raises ``ValueError`` for text that is
    not ISO 8601.
    """
    body = text.strip()
    if body.endswith(("Z", "z")):
        body = body[:-1] + "+00:00"
    # The date is 10 characters (2024-05-01, 2024-W18-3) or 8 (20240501, 2024W183), then a separator.
    time_at = 11 if body[4:5] == "-" else 9
    signs = (body.find("+", time_at), body.find("-", time_at))
    offset_at = min((k for k in signs if k >= 0), default=len(body))
    fraction = _FRACTION.search(body, time_at, offset_at)
    if fraction is None or len(fraction.group(1)) <= 6:
        kept = rest = ""
        parsed = parse_iso(body)
    else:
        digits = fraction.group(1)
        kept, rest = digits[:6], digits[6:]
        parsed = parse_iso(body[: fraction.start(1)] + kept + body[fraction.end(1) :])
    if any(len(m.group(1)) > 6 for m in _FRACTION.finditer(body, offset_at)):
        raise TimestampError(f"timestamp {text!r} has a UTC offset finer than a microsecond")
    if not rest:
        return parsed, False
    half = "5".ljust(len(rest), "0")
    if rest > half or (rest == half and int(kept[-1]) % 2 == 1):
        try:
            parsed += timedelta(microseconds=1)
        except OverflowError:
            raise TimestampError(f"timestamp {text!r} is outside years 1..9999") from None
    return parsed, rest.strip("0") != ""


def rounded_note(given: str, us: int) -> str:
    """The note of a row whose timestamp ``given`` was rounded to the microsecond instant ``us``."""
    shown = epoch_us_to_datetime(us).isoformat() if _MIN_US <= us <= _MAX_US else us
    return f"timestamp {given} is finer than a microsecond; rounded to {shown}"


class TimestampParser:
    """Parse one timestamp (a ``str``, a number for epoch formats, or a ``datetime``) to epoch µs.

    ``parse(value)`` returns ``(epoch_us, note)``: ``note`` is ``None``, or the
    reason the row counts as changed. It raises :class:`TimestampError`
    for a timestamp that cannot be used.
    """

    def __init__(self, owner: str, timestamp_format: str | None, tz: tzinfo | None) -> None:
        if timestamp_format is not None and not isinstance(timestamp_format, str):
            raise TypeError(
                f"{owner}: timestamp_format must be None, 'iso', 'epoch_s', 'epoch_ms', 'epoch_us' "
                f"or a strptime format, got {timestamp_format!r} ({type(timestamp_format).__name__})"
            )
        fmt = timestamp_format or "iso"
        if fmt not in EPOCH_FORMATS and fmt != "iso" and "%" not in fmt:
            raise ValueError(
                f"{owner}: timestamp_format must be 'iso', 'epoch_s', 'epoch_ms', 'epoch_us' or a "
                f"strptime format containing '%', got {timestamp_format!r}"
            )
        self.format = fmt
        self.tz = tz
        self._scale = EPOCH_FORMATS.get(fmt)
        self._cache: dict[object, tuple[int, str | None]] = {}

    def parse(self, value: object) -> tuple[int, str | None]:
        """``(epoch_us, note)`` for ``value``; raises :class:`TimestampError`."""
        key = value if isinstance(value, (str, int, float)) else None
        if key is not None:
            hit = self._cache.get(key)
            if hit is not None:
                return hit
        out = self._parse(value)
        if key is not None:
            if len(self._cache) > 200_000:
                self._cache.clear()
            self._cache[key] = out
        return out

    def _parse(self, value: object) -> tuple[int, str | None]:
        if self._scale is not None:
            return self._epoch(value, self._scale)
        if isinstance(value, datetime):
            us = self._aware(value, repr_=value.isoformat())
            ns = getattr(value, "nanosecond", 0)  # (pandas' Timestamp: finer than a datetime holds)
            if not ns:
                return us, None
            rounded = us + (1 if ns > 500 or (ns == 500 and us % 2) else 0)  # half to even, as columns
            return rounded, rounded_note(value.isoformat(), rounded)
        if not isinstance(value, str):
            raise TimestampError(f"timestamp {value!r} is a {type(value).__name__}, expected a str")
        if not value.strip():
            raise TimestampError("empty timestamp")
        rounded = False
        try:
            if self.format == "iso":
                parsed, rounded = _parse_iso(value)
            elif "%Z" in self.format:
                parsed = self._zone_named(value)
            else:
                parsed = datetime.strptime(value, self.format)
        except ValueError:
            expected = "ISO 8601" if self.format == "iso" else f"the format {self.format!r}"
            raise TimestampError(f"timestamp {value!r} is not {expected}") from None
        us = self._aware(parsed, repr_=value)
        return us, (rounded_note(repr(value), us) if rounded else None)

    def _zone_named(self, value: str) -> datetime:
        """``value`` read with a format holding ``%Z``: a UTC time when the name is UTC or GMT.

        ``strptime`` reads ``%Z`` and drops it (a naive result), so "12:00 UTC" would be read in
        ``timezone=`` or refused as having no offset. Other names (CET, EST: ambiguous the world
        over) are refused rather than guessed.
        """
        for name in ("UTC", "GMT"):
            try:
                return datetime.strptime(value, self.format.replace("%Z", name)).replace(tzinfo=timezone.utc)
            except ValueError:
                continue
        datetime.strptime(value, self.format)  # (not the format at all: the caller's ValueError)
        raise TimestampError(
            f"timestamp {value!r} names a time zone (%Z) other than UTC or GMT; a zone name is not read "
            "as an offset (CET, EST mean different things in different places): give the offset (%z)"
        )

    def _aware(self, parsed: datetime, *, repr_: str) -> int:
        try:
            offset = parsed.utcoffset()
        except (TypeError, ValueError, OverflowError) as exc:  # pandas' NaT in an object column
            raise TimestampError(f"timestamp {repr_!r} is not a usable datetime ({exc})") from None
        if offset is None:
            if self.tz is None:
                raise TimestampError(
                    f"timestamp {repr_!r} has no UTC offset; "
                    "pass timezone= (--timezone) to say which zone it is in"
                )
            parsed = self._localise(parsed, self.tz, repr_)
        us = datetime_to_epoch_us(parsed)
        if not _MIN_US <= us <= _MAX_US:
            raise TimestampError(f"timestamp {repr_!r} is outside years 1..9999 in UTC")
        return us

    @staticmethod
    def _localise(naive: datetime, tz: tzinfo, repr_: str) -> datetime:
        early = naive.replace(tzinfo=tz, fold=0)
        late = naive.replace(tzinfo=tz, fold=1)
        if early.utcoffset() == late.utcoffset():
            return early
        back = early.astimezone(timezone.utc).astimezone(tz).replace(tzinfo=None)
        if back == naive:
            raise TimestampError(
                f"local time {repr_!r} happens twice in {tz} (clocks went back); "
                "give this timestamp a UTC offset"
            )
        raise TimestampError(
            f"local time {repr_!r} does not exist in {tz} (clocks went forward); "
            "give this timestamp a UTC offset"
        )

    def _epoch(self, value: object, scale: int) -> tuple[int, str | None]:
        if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
            raise TimestampError(f"timestamp {value!r} is a {type(value).__name__}, expected a number")
        text = value.strip() if isinstance(value, str) else repr(value)
        if "_" in text:
            raise TimestampError(f"timestamp {value!r} is not a number of {self.format[6:]}")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise TimestampError(f"timestamp {value!r} is not a number of {self.format[6:]}") from None
        if not number.is_finite():
            raise TimestampError(f"timestamp {value!r} is not a finite number")
        exact = number * scale
        us = int(exact.to_integral_value(rounding=ROUND_HALF_EVEN))
        if not _MIN_US <= us <= _MAX_US:
            raise TimestampError(f"timestamp {value!r} ({self.format}) is outside years 1..9999")
        return us, (rounded_note(repr(value), us) if exact != us else None)
