"""ISO 8601 text as a datetime, the same on every Python the library supports.

``datetime.fromisoformat`` reads ISO 8601 broadly from Python 3.11 on (any
fraction of a second, a comma for the point, ``Z``, the basic format
``20240501T100000``, week dates ``2024-W18-3``, offsets ``+0100`` and
``+01``). On 3.10 it reads only what ``isoformat()`` writes, so a CSV file,
a ``--start`` option or a result's JSON that 3.11 reads was refused there.
:func:`parse_iso` gives 3.11's reading on 3.10 for those forms, by rewriting
them into the form 3.10 reads; on 3.11 and later it is ``fromisoformat``.
"""

from __future__ import annotations

import re
import sys
from datetime import date, datetime

__all__ = ["parse_iso"]

# Date (extended, basic or week date), then optionally a one-character separator, the time (hours,
# minutes and seconds with or without colons, a fraction of the seconds) and an offset.
_FORM = re.compile(
    r"(?P<y>[0-9]{4})"
    r"(?:-(?P<mo>[0-9]{2})-(?P<d>[0-9]{2})|(?P<mo_b>[0-9]{2})(?P<d_b>[0-9]{2})"
    r"|-W(?P<w>[0-9]{2})(?:-(?P<wd>[0-9]))?|W(?P<w_b>[0-9]{2})(?P<wd_b>[0-9])?)"
    r"(?:(?P<sep>.)(?P<h>[0-9]{2})"
    r"(?:(?P<c1>:?)(?P<mi>[0-9]{2})(?:(?P=c1)(?P<s>[0-9]{2})(?:[.,](?P<f>[0-9]+))?)?)?"
    r"(?P<off>[Zz]|[+-][0-9]{2}(?:(?P<c2>:?)[0-9]{2}(?:(?P=c2)[0-9]{2}(?:[.,][0-9]+)?)?)?)?)?",
    re.ASCII | re.DOTALL,
)
# An offset as 3.10 reads it: +HH:MM, +HH:MM:SS or +HH:MM:SS.ffffff.
_OFFSET = re.compile(r"([+-])([0-9]{2}):?([0-9]{2})?(?::?([0-9]{2})(?:[.,]([0-9]+))?)?", re.ASCII)


def _six(fraction: str) -> str:
    """A fraction's digits as exactly 6 (3.11 keeps the first 6 of a longer one, as this does)."""
    return fraction[:6].ljust(6, "0")


def _offset_310(text: str) -> str:
    if text in ("Z", "z"):
        return "+00:00"
    found = _OFFSET.fullmatch(text)
    if found is None:  # pragma: no cover - _FORM admits only what _OFFSET reads
        raise ValueError(f"Invalid isoformat string: {text!r}")
    sign, hh, mm, ss, ff = found.groups()
    out = f"{sign}{hh}:{mm or '00'}"
    if ss is not None:
        out += f":{ss}" + (f".{_six(ff)}" if ff is not None else "")
    return out


def rewrite_for_310(text: str) -> str:
    """``text`` in the form Python 3.10's ``fromisoformat`` reads, meaning what 3.11's reads in it.

    Raises ``ValueError`` ("Invalid isoformat string", as ``fromisoformat``)
    for text outside the forms above; values out of range (a 13th month) are
    left for ``fromisoformat`` to refuse.
    """
    found = _FORM.fullmatch(text)
    if found is None:
        raise ValueError(f"Invalid isoformat string: {text!r}")
    g = found.groupdict()
    week = g["w"] or g["w_b"]
    if week is not None:
        day = g["wd"] or g["wd_b"] or "1"
        out = date.fromisocalendar(int(g["y"]), int(week), int(day)).isoformat()
    else:
        out = f"{g['y']}-{g['mo'] or g['mo_b']}-{g['d'] or g['d_b']}"
    if g["sep"] is None:
        return out
    out += f"{g['sep']}{g['h']}:{g['mi'] or '00'}:{g['s'] or '00'}"
    if g["f"] is not None:
        out += f".{_six(g['f'])}"
    if g["off"] is not None:
        out += _offset_310(g["off"])
    return out


def parse_iso(text: str) -> datetime:
    """``datetime.fromisoformat(text)`` as Python 3.11 reads it, on 3.10 too (see the module docs).

    A trailing ``z`` is read as ``Z`` (UTC), which 3.11 refuses.
    """
    if text.endswith("z"):
        text = text[:-1] + "Z"
    if sys.version_info >= (3, 11):
        return datetime.fromisoformat(text)
    return datetime.fromisoformat(rewrite_for_310(text))  # pragma: no cover - run on 3.10 only
