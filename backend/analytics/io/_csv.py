"""``read_csv`` and ``write_csv``: long-format CSV files (one point per row) with any column names.

>>> import io as _io
>>> text = '''host,when,cpu_pct
... web-1,2024-05-01 10:00,41.5
... web-1,2024-05-01 10:01,oops
... web-1,2024-05-01 10:01,43.0
... '''
>>> series, report = read_csv(
...     _io.StringIO(text),
...     columns={"node": "host", "timestamp": "when", "value": "cpu_pct"},
...     ids={"tenant": "acme", "cluster": "c-1", "metric": "cpu"},
...     timezone="UTC",
... )
>>> series[0].ids, series[0].values.tolist()
(('acme', 'c-1', 'web-1', 'cpu'), [41.5, 43.0])
>>> print(report)
<stream>: 3 rows read, 2 points in 1 series; 1 refused, 0 merged, 0 changed
  line 3: refused: value 'oops' is not a number
"""

from __future__ import annotations

import codecs
import csv
import itertools
import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from datetime import tzinfo
from pathlib import Path
from typing import TextIO

from .._sequences import epoch_us_to_datetime
from ..types import MetricSeries
from ._report import Loaded, LoadError, LoadIssue
from ._rows import (
    ID_ROLES,
    ROLES,
    RowCollector,
    RowError,
    check_policy,
    check_series_iterable,
    output_columns,
    parse_id,
    parse_value,
    resolve_columns,
)
from ._timestamps import TimestampError, TimestampParser, resolve_timezone

__all__ = ["read_csv", "write_csv"]

_log = logging.getLogger(__name__)


def _source_name(path: object) -> str:
    if isinstance(path, (str, Path)):
        return str(path)
    name = getattr(path, "name", None)
    return name if isinstance(name, str) else "<stream>"


class _UndecodableError(Exception):
    """The text stream met bytes it cannot decode after ``lines`` lines had been read."""

    def __init__(self, error: UnicodeDecodeError, lines: int) -> None:
        super().__init__(str(error))
        self.error = error
        self.lines = lines


_WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)


def _line_breaks(text: str) -> int:
    """Line ends in ``text`` as the csv module counts them (LF, CR, CR LF)."""
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def _last_line(text: str) -> str:
    """What ``text`` holds after its last line end (all of it without one)."""
    return text[max(text.rfind("\n"), text.rfind("\r")) + 1 :]


def _locate_undecodable(file: str, encoding: str) -> tuple[int, str, bytes] | None:
    """``(line, text before it on that line, bad bytes)`` for the first bytes of ``file`` that
    ``encoding`` cannot decode; ``None`` if the file decodes (or cannot be read again)."""
    try:
        decoder = codecs.getincrementaldecoder(encoding)()
        line = 1
        with open(file, "rb") as fh:
            for raw in fh:
                try:
                    line += _line_breaks(decoder.decode(raw))
                except UnicodeDecodeError as exc:
                    before = exc.object[: exc.start].decode(encoding, errors="replace")
                    line += _line_breaks(before)
                    return line, _last_line(before), bytes(exc.object[exc.start : exc.end])
    except (OSError, LookupError):
        return None
    return None


def _decode_error(source: str, file: str | None, encoding: str, exc: _UndecodableError) -> LoadError:
    """The :class:`LoadError` for text that is not in ``encoding``: where, which bytes, what to do."""
    try:
        utf8 = codecs.lookup(encoding).name in ("utf-8", "utf-8-sig")
    except LookupError:
        utf8 = False
    expected = "UTF-8" if utf8 else repr(encoding)
    found = _locate_undecodable(file, encoding) if file is not None else None
    if found is None:  # a stream that cannot be read again: only the last line read is known
        row, where = None, f"line {exc.lines + 1} or later"
        error = exc.error
        before = _last_line(bytes(error.object[: error.start]).decode(encoding, errors="replace"))
        bad = bytes(error.object[error.start : error.end])
    else:
        row, before, bad = found
        where = f"line {row}"
    head = b""
    if file is not None and row == 1:
        try:
            with open(file, "rb") as fh:
                head = fh.read(4)
        except OSError:
            pass
    elif exc.lines == 0:
        head = bytes(exc.error.object[:4])
    wide = next((name for bom, name in _WIDE_BOMS if head.startswith(bom)), None)
    if utf8 and wide is not None:
        reason = (
            f"not UTF-8 text: it starts with a {wide} byte-order mark; "
            f"convert it to UTF-8, or pass encoding='{wide.lower()}' to read_csv "
            f"(--encoding {wide.lower()})"
        )
    else:
        shown = " ".join(f"0x{b:02x}" for b in bad[:4])
        if before:
            shown += f" after {before[-40:]!r}"
        elif found is not None:
            shown += " at the start of the line"
        if utf8 and ("\x00" in before or b"\x00" in head):  # (UTF-16 without a byte-order mark)
            hint = (
                "it looks like UTF-16 (a 0 byte beside every letter): pass encoding='utf-16-le' "
                "(or 'utf-16-be') to read_csv (--encoding utf-16-le)"
            )
        elif utf8:
            hint = "convert it to UTF-8, or pass encoding= (e.g. 'latin-1') to read_csv (--encoding latin-1)"
        else:
            hint = "pass the encoding the file was written in to read_csv (--encoding)"
        reason = f"not {expected} text: byte {shown} cannot be decoded; {hint}"
    return LoadError(source, LoadIssue(row, where, "refused", reason))


def _without_bom(fh: Iterable[str]) -> Iterator[str]:
    """The lines of ``fh``, less a byte-order mark at the start of the first (a text stream keeps it)."""
    lines = iter(fh)
    first = next(lines, None)
    if first is None:
        return lines
    if isinstance(first, str):
        first = first.removeprefix("\ufeff")
    return itertools.chain((first,), lines)


def _utf16_header(owner: str, source: str) -> ValueError:
    """The error of a header holding NUL characters: UTF-16 without a byte-order mark, read as UTF-8."""
    return ValueError(
        f"{owner}: {source}: the header holds NUL characters: the file looks like UTF-16 (a 0 byte "
        "beside every letter); pass encoding='utf-16-le' (or 'utf-16-be') to read_csv (--encoding)"
    )


def read_csv(
    path: str | Path | TextIO,
    *,
    columns: Mapping[str, str] | None = None,
    ids: Mapping[str, str] | None = None,
    timestamp_format: str | None = None,
    timezone: str | tzinfo | None = None,
    duplicates: str = "error",
    strict: bool = False,
    delimiter: str = ",",
    encoding: str = "utf-8-sig",
) -> Loaded:
    """Read a long-format CSV file (one point per row) into series, with a report of every issue.

    Columns: ``columns`` maps the roles ``tenant``, ``cluster``, ``node``,
    ``metric``, ``timestamp`` and ``value`` to the file's header names; a role
    not given uses the name ``python -m simulator generate`` writes
    (``tenant_id``, ``cluster_id``, ``node_id``, ``metric_name``,
    ``timestamp``, ``value``). ``ids`` gives a constant id for a role the
    file has no column for (``ids={"tenant": "acme"}``). Other columns are
    ignored.

    Timestamps: ``timestamp_format`` is ``None``/``"iso"`` (ISO 8601),
    ``"epoch_s"``/``"epoch_ms"``/``"epoch_us"`` (numbers since the Unix epoch,
    UTC) or a ``strptime`` format. A timestamp without a UTC offset is refused
    unless ``timezone`` (an IANA name such as ``"Europe/Paris"``, or a
    ``tzinfo``) says where it was written; a local time that zone skips or
    repeats is refused. Nothing is guessed.

    Rows: each series is put in time order (a row that came after a later
    timestamp is reported as *changed*). Rows with the same series and
    instant follow ``duplicates``: ``"error"`` raises :class:`LoadError`
    naming both lines; ``"first"``/``"last"`` keep that row and report the
    others as *merged*; ``"mean"`` averages them (every row reported as
    *merged*). A row that cannot be used (a missing or non-numeric value, a
    bad timestamp, an empty id, the wrong number of fields) is *refused* and
    reported with its line number; with ``strict=True`` the first such row
    raises :class:`LoadError` instead. Blank lines are skipped.

    Returns ``Loaded(series, report)``: the series in order of first
    appearance and a :class:`LoadReport`. A header that lacks a mapped
    column raises ``ValueError`` listing the header. A file is read as
    ``encoding`` (UTF-8, with or without a byte-order mark, by default):
    bytes it cannot decode raise :class:`LoadError` naming the line and the
    bytes (and a UTF-16 or UTF-32 file as such). A text stream's leading
    byte-order mark is not part of the first column's name.

    .. versionadded:: 0.1.0
    """
    owner = "read_csv"
    policy = check_policy(owner, duplicates)
    if not isinstance(strict, bool):
        raise TypeError(f"{owner}: strict must be a bool, got {strict!r} ({type(strict).__name__})")
    parser = TimestampParser(owner, timestamp_format, resolve_timezone(owner, timezone))
    source = _source_name(path)
    if isinstance(path, (str, Path)):
        try:
            with open(path, encoding=encoding, newline="") as fh:
                return _read(fh, source, columns, ids, parser, policy, strict, delimiter)
        except _UndecodableError as exc:
            raise _decode_error(source, os.fspath(path), encoding, exc) from None
    if not hasattr(path, "read"):
        raise TypeError(
            f"{owner}: path must be a str, a Path or a text file, got {path!r} ({type(path).__name__})"
        )
    try:
        return _read(path, source, columns, ids, parser, policy, strict, delimiter)
    except _UndecodableError as exc:
        # A file opened by the caller can be read again by name to find the line; another stream cannot.
        name, stream_encoding = getattr(path, "name", None), getattr(path, "encoding", None)
        file = name if isinstance(name, str) and os.path.isfile(name) else None
        used = stream_encoding if isinstance(stream_encoding, str) else "utf-8"
        raise _decode_error(source, file, used, exc) from None


def _lines(start: int, end: int) -> str | None:
    """``"lines 5-6011"`` for a record over several lines; ``None`` (the usual ``"line 5"``) for one."""
    return f"lines {start}-{end}" if end > start else None


def _read(
    fh: TextIO,
    source: str,
    columns: Mapping[str, str] | None,
    ids: Mapping[str, str] | None,
    parser: TimestampParser,
    policy: str,
    strict: bool,
    delimiter: str,
) -> Loaded:
    owner = "read_csv"
    try:
        reader = csv.reader(_without_bom(fh), delimiter=delimiter, strict=True)
        header = next(reader, None)
        while header == []:  # blank lines before the header are skipped, as blank lines after it
            header = next(reader, None)
    except csv.Error as exc:
        if "NUL" in str(exc):  # (Python 3.10's csv refuses a NUL itself; 3.11's reads it into the header)
            raise _utf16_header(owner, source) from None
        raise ValueError(f"{owner}: {source}: line {reader.line_num}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise _UndecodableError(exc, 0) from None
    if header is None:
        raise ValueError(f"{owner}: {source} is empty; expected a header line")
    if any("\x00" in name for name in header):
        raise _utf16_header(owner, source)
    plan = resolve_columns(owner, columns, ids, header, source=source)
    # A name the header repeats is ambiguous only if the load reads it (a spreadsheet's export ends
    # in empty names ",,": columns that are not read are ignored, repeated or not).
    repeated = sorted({name for name in plan.columns.values() if header.count(name) > 1})
    if repeated:
        raise ValueError(f"{owner}: {source}: the header repeats {', '.join(map(repr, repeated))}")
    index = {name: k for k, name in enumerate(header)}
    id_cols = [index[plan.columns[role]] if role in plan.columns else None for role in ID_ROLES]
    constants = plan.constants
    ts_col, value_col = index[plan.columns["timestamp"]], index[plan.columns["value"]]
    width = len(header)
    out = RowCollector(source, duplicates=policy, strict=strict)
    # Ids repeat on every row of a series: check each distinct raw tuple once.
    keys: dict[tuple[str, ...], tuple[str, str, str, str] | str] = {}
    parse_ts = parser.parse
    add = out.add
    line = reader.line_num
    while True:
        start = line + 1
        try:
            row = next(reader, None)
        except UnicodeDecodeError as exc:
            raise _UndecodableError(exc, line) from None
        except csv.Error as exc:
            out.rows += 1
            end = reader.line_num
            # A quote opened and never closed takes in every line after it (to the end of the file or
            # the field size limit): say which lines were lost, not only the first.
            lost = f" (a quote opened here never closes: lines {start}-{end} were read as one field)"
            if "NUL" in str(exc):  # (Python 3.10; from 3.11 the row is read and its fields refuse the NUL)
                reason = "the line holds a NUL character (a 0 byte)"
            else:
                reason = f"not valid CSV: {exc}{lost if end > start else ''}"
            out.refuse(start, reason, where=_lines(start, end))
            if end == line:  # the reader could not move on
                break
            line = end
            continue
        if row is None:
            break
        line = reader.line_num
        if not row:
            continue
        out.rows += 1
        where = _lines(start, line)  # (a quoted field may run over several lines)
        if len(row) != width:
            spans = f" (the record runs over {where}: a quote may not close as meant)" if where else ""
            out.refuse(start, f"expected {width} fields as in the header, got {len(row)}{spans}", where=where)
            continue
        raw = tuple(row[c] if c is not None else "" for c in id_cols)
        key = keys.get(raw)
        if key is None:
            try:
                parts = [
                    parse_id(role, row[c]) if c is not None else constants[role]
                    for role, c in zip(ID_ROLES, id_cols, strict=True)
                ]
                key = keys[raw] = (parts[0], parts[1], parts[2], parts[3])
            except RowError as exc:
                key = keys[raw] = str(exc)
        if isinstance(key, str):
            out.refuse(start, key, where=where)
            continue
        try:
            us, note = parse_ts(row[ts_col])
        except TimestampError as exc:
            out.refuse(start, str(exc), key, where=where)
            continue
        text = row[value_col]
        try:
            value = float(text)
            if value - value != 0.0 or "_" in text:  # inf or nan, or digits grouped with "_"
                raise ValueError(text)
        except ValueError:
            try:
                value = parse_value(text)
            except RowError as exc:
                out.refuse(start, str(exc), key, us, where=where)
                continue
        if note is not None:
            out.change(start, note, key, us)
        add(start, key, us, value)
    loaded = out.finish()
    if loaded.report.refused:
        _log.warning("%s", loaded.report.summary())
    return loaded


def write_csv(
    series: Iterable[MetricSeries],
    path: str | Path | TextIO,
    *,
    columns: Mapping[str, str] | None = None,
) -> int:
    """Write series as long-format CSV (one point per row); return the number of rows written.

    The header uses ``columns`` (role to name, as :func:`read_csv` takes it;
    default ``tenant_id,cluster_id,node_id,metric_name,timestamp,value``).
    Timestamps are ISO 8601 in UTC with the offset, values the shortest
    ``repr`` that reads back to the same float, so :func:`read_csv` with the
    same ``columns`` gives back equal series.
    """
    owner = "write_csv"
    names = output_columns(owner, columns)
    check_series_iterable(owner, series)
    if isinstance(path, (str, Path)):
        with open(path, "w", encoding="utf-8", newline="") as fh:
            return _write(fh, series, names)
    return _write(path, series, names)


def _write(fh: TextIO, series: Iterable[MetricSeries], names: Mapping[str, str]) -> int:
    writer = csv.writer(fh, lineterminator="\n")
    writer.writerow([names[role] for role in ROLES])
    cache: dict[int, str] = {}
    total = 0
    for i, s in enumerate(series):
        if not isinstance(s, MetricSeries):
            raise TypeError(f"write_csv: series[{i}] must be a MetricSeries, got {s!r} ({type(s).__name__})")
        t, c, n, m = s.ids
        for us, v in zip(s.epoch_us, s.values, strict=True):
            text = cache.get(us)
            if text is None:
                if len(cache) > 100_000:
                    cache.clear()
                text = cache[us] = epoch_us_to_datetime(us).isoformat()
            writer.writerow((t, c, n, m, text, repr(v)))
        total += len(s)
    return total

