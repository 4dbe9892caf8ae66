"""``from_frame`` and ``to_frame``: long-format pandas DataFrames (the optional ``[pandas]`` extra).

pandas is imported inside the functions, never when :mod:`backend.analytics.io`
is imported, so the core stays stdlib-only. Rows are handled exactly as
:func:`~backend.analytics.io.read_csv` handles them (same roles, duplicate
policies and report); a row is named by its position (0-based, as
``df.iloc[row]``).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, tzinfo
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from ..types import MetricSeries
from ._report import Loaded
from ._rows import (
    DEFAULT_COLUMNS,
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
from ._timestamps import TimestampError, TimestampParser, resolve_timezone, rounded_note

__all__ = ["from_frame", "to_frame"]

_NAIVE_EPOCH = datetime(1970, 1, 1)
_UNIT_US = {"s": (1_000_000, 1), "ms": (1_000, 1), "us": (1, 1), "ns": (1, 1_000)}
_NAT = -(2**63)


def _pandas(owner: str) -> Any:
    """pandas, imported on first use (an optional dependency: the core never imports it)."""
    try:
        return importlib.import_module("pandas")
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            f"{owner} needs pandas: pip install 'backend-analytics[pandas]'", name=exc.name
        ) from exc


def _datetime_column(col: Any, parser: TimestampParser) -> list[tuple[int, str | None] | str]:
    """Per row: ``(epoch_us, note)`` or the reason the timestamp is refused, for a datetime64 column."""
    tz = getattr(col.dt, "tz", None)
    unit = str(col.dt.unit)
    naive = col.dt.tz_convert("UTC").dt.tz_localize(None) if tz is not None else col
    ints = naive.to_numpy().view("int64").tolist()
    mul, div = _UNIT_US[unit]
    out: list[tuple[int, str | None] | str] = []
    for raw in ints:
        if raw == _NAT:
            out.append("missing timestamp (NaT)")
            continue
        # (nanoseconds: rounded half to even, as the epoch formats round)
        us = raw * mul if div == 1 else int((Decimal(raw) / div).to_integral_value(rounding=ROUND_HALF_EVEN))
        if tz is None:
            # A naive column holds wall-clock times: the parser applies timezone= (or refuses).
            try:
                us, _ = parser.parse(_NAIVE_EPOCH + timedelta(microseconds=us))
            except TimestampError as exc:
                out.append(str(exc))
                continue
        # Rounded where the column is finer than a microsecond; the note names the instant stored (for
        # a naive column, after timezone=).
        out.append((us, rounded_note(f"{raw} ns", us) if raw % div else None))
    return out


def from_frame(
    df: Any,
    *,
    columns: Mapping[str, str] | None = None,
    ids: Mapping[str, str] | None = None,
    timestamp_format: str | None = None,
    timezone: str | tzinfo | None = None,
    duplicates: str = "error",
    strict: bool = False,
) -> Loaded:
    """Read a long-format DataFrame (one point per row) into series, with a report of every issue.

    Arguments as :func:`~backend.analytics.io.read_csv`. The timestamp column
    may be a ``datetime64`` column (timezone-aware, or naive with
    ``timezone=``), strings (``timestamp_format``) or numbers (``"epoch_s"``
    and friends); it may also be the frame's index when the index is named
    like the timestamp column. Id columns must hold ``str`` (convert a numeric
    column with ``df[name].astype(str)``). A row is reported by its position
    (``"row 3"`` is ``df.iloc[3]``); a nanosecond timestamp is rounded to the
    microsecond and reported as changed; NaN values are refused.

    Needs pandas >= 2.0 (``pip install 'backend-analytics[pandas]'``).

    .. versionadded:: 0.1.0
    """
    owner = "from_frame"
    pd = _pandas(owner)
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{owner}: df must be a pandas DataFrame, got {type(df).__name__}")
    policy = check_policy(owner, duplicates)
    if not isinstance(strict, bool):
        raise TypeError(f"{owner}: strict must be a bool, got {strict!r} ({type(strict).__name__})")
    parser = TimestampParser(owner, timestamp_format, resolve_timezone(owner, timezone))
    ts_name = (columns or {}).get("timestamp", DEFAULT_COLUMNS["timestamp"])
    if ts_name not in df.columns and df.index.name == ts_name:
        df = df.reset_index()
    names = [str(c) for c in df.columns]
    if len(set(names)) != len(names) or any(not isinstance(c, str) for c in df.columns):
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"{owner}: the DataFrame's columns repeat {', '.join(map(repr, repeated))}")
        # Labels that are not str (pd.read_csv(header=None) numbers them 0, 1, 2): named by their text.
        df = df.set_axis(names, axis=1)
    plan = resolve_columns(owner, columns, ids, names, source="the DataFrame")
    source = f"DataFrame ({len(df):,} rows)"
    id_cols = [
        df[plan.columns[role]].tolist() if role in plan.columns else None for role in ID_ROLES
    ]
    ts_col = df[plan.columns["timestamp"]]
    values = df[plan.columns["value"]].tolist()
    if ts_col.dtype.kind == "M" and timestamp_format is None:
        stamps: list[tuple[int, str | None] | str] = _datetime_column(ts_col, parser)
    else:
        stamps = []
        for raw in ts_col.tolist():
            try:
                stamps.append(parser.parse(raw))
            except TimestampError as exc:
                stamps.append(str(exc))
    out = RowCollector(source, duplicates=policy, strict=strict)
    out.rows = len(values)
    out.row_name = "row"
    for pos in range(len(values)):
        try:
            key = tuple(
                parse_id(role, col[pos]) if col is not None else plan.constants[role]
                for role, col in zip(ID_ROLES, id_cols, strict=True)
            )
        except RowError as exc:
            out.refuse(pos, str(exc))
            continue
        ids4 = (key[0], key[1], key[2], key[3])
        stamp = stamps[pos]
        if isinstance(stamp, str):
            out.refuse(pos, stamp, ids4)
            continue
        us, note = stamp
        try:
            value = parse_value(values[pos])
        except RowError as exc:
            out.refuse(pos, str(exc), ids4, us)
            continue
        if note is not None:
            out.change(pos, note, ids4, us)
        out.add(pos, ids4, us, value)
    return out.finish()


def to_frame(series: Iterable[MetricSeries], *, columns: Mapping[str, str] | None = None) -> Any:
    """A long-format DataFrame of ``series``: one row per point, timestamps ``datetime64[us, UTC]``.

    Column names follow ``columns`` (role to name, default
    ``tenant_id,cluster_id,node_id,metric_name,timestamp,value``), so
    ``from_frame(to_frame(s, columns=c), columns=c)`` gives back equal series.

    .. versionadded:: 0.1.0
    """
    owner = "to_frame"
    pd = _pandas(owner)
    np = importlib.import_module("numpy")  # a dependency of pandas

    names = output_columns(owner, columns)
    check_series_iterable(owner, series)
    cols: dict[str, list[Any]] = {role: [] for role in ROLES}
    for i, s in enumerate(series):
        if not isinstance(s, MetricSeries):
            raise TypeError(f"{owner}: series[{i}] must be a MetricSeries, got {s!r} ({type(s).__name__})")
        n = len(s)
        for role, ident in zip(ID_ROLES, s.ids, strict=True):
            cols[role].extend([ident] * n)
        cols["timestamp"].extend(s.epoch_us)
        cols["value"].extend(s.values.tolist())
    stamps = pd.to_datetime(np.asarray(cols["timestamp"], dtype="datetime64[us]"), utc=True)
    frame: dict[str, Any] = {names[role]: cols[role] for role in ID_ROLES}
    frame[names["timestamp"]] = stamps
    frame[names["value"]] = np.asarray(cols["value"], dtype="float64")
    return pd.DataFrame(frame)
