"""Rows in, series out: the column mapping, value parsing and duplicate policies every loader shares.

A loader (CSV file, DataFrame) resolves its columns with :func:`resolve_columns`,
then feeds each row to a :class:`RowCollector`, which groups rows into series,
puts each series in time order, applies the duplicate policy and records every
row it refuses, merges or changes in a :class:`~backend.analytics.io.LoadReport`.
"""

from __future__ import annotations

import math
import numbers
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from .._sequences import epoch_us_to_datetime
from ..types import MetricSeries
from ._report import Loaded, LoadError, LoadIssue, LoadReport

__all__ = [
    "DEFAULT_COLUMNS",
    "DUPLICATE_POLICIES",
    "ID_ROLES",
    "ROLES",
    "ColumnPlan",
    "RowCollector",
    "RowError",
    "check_policy",
    "check_series_iterable",
    "output_columns",
    "parse_id",
    "parse_value",
    "resolve_columns",
]

ID_ROLES = ("tenant", "cluster", "node", "metric")
ROLES = (*ID_ROLES, "timestamp", "value")
DEFAULT_COLUMNS: Mapping[str, str] = {
    "tenant": "tenant_id",
    "cluster": "cluster_id",
    "node": "node_id",
    "metric": "metric_name",
    "timestamp": "timestamp",
    "value": "value",
}
DUPLICATE_POLICIES = ("error", "first", "last", "mean")
_ID_NAMES = {"tenant": "tenant id", "cluster": "cluster id", "node": "node id", "metric": "metric name"}

SeriesIds = tuple[str, str, str, str]


class RowError(Exception):
    """A row that cannot be used; ``str(exc)`` is the reason shown in the load report."""


@dataclass(frozen=True, slots=True)
class ColumnPlan:
    """Where each role comes from: ``columns[role]`` names a column, ``constants[role]`` is a fixed id."""

    columns: Mapping[str, str]
    constants: Mapping[str, str]


def check_policy(owner: str, duplicates: object) -> str:
    """Return ``duplicates`` if it names a policy."""
    if not isinstance(duplicates, str) or duplicates not in DUPLICATE_POLICIES:
        allowed = ", ".join(repr(p) for p in DUPLICATE_POLICIES)
        raise ValueError(f"{owner}: duplicates must be one of {allowed}, got {duplicates!r}")
    return duplicates


def _check_mapping(owner: str, name: str, value: object, roles: Sequence[str]) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(
            f"{owner}: {name} must be a mapping of role to str, got {value!r} ({type(value).__name__})"
        )
    out: dict[str, str] = {}
    for role, text in value.items():
        if role not in roles:
            raise ValueError(f"{owner}: {name} has unknown role {role!r}; roles: {', '.join(roles)}")
        if not isinstance(text, str) or not text:
            raise TypeError(f"{owner}: {name}[{role!r}] must be a non-empty str, got {text!r}")
        out[role] = text
    return out


def resolve_columns(
    owner: str, columns: object, ids: object, available: Sequence[str], *, source: str
) -> ColumnPlan:
    """Decide where each role comes from, checking the names against ``available`` columns.

    ``columns`` maps roles to column names (roles not given keep
    :data:`DEFAULT_COLUMNS`); ``ids`` maps id roles to constant ids, for
    inputs without such a column. A role is a column or a constant, never both.
    """
    cols = _check_mapping(owner, "columns", columns, ROLES)
    consts = _check_mapping(owner, "ids", ids, ID_ROLES)
    both = sorted(set(cols) & set(consts))
    if both:
        raise ValueError(f"{owner}: {', '.join(both)} given both as a column and as a constant id")
    plan = {role: cols.get(role, DEFAULT_COLUMNS[role]) for role in ROLES if role not in consts}
    present = set(available)
    for role, name in plan.items():
        if name not in present:
            fix = f"map it with columns={{{role!r}: ...}} (--column {role}=NAME)"
            if role in ID_ROLES:
                fix += f" or give a constant with ids={{{role!r}: ...}} (--id {role}=VALUE)"
            raise ValueError(
                f"{owner}: {source} has no column {name!r} for the {role}; "
                f"columns: {', '.join(map(str, available))}; {fix}"
            )
    return ColumnPlan(plan, consts)


def _missing(raw: object) -> bool:
    """None, NaN, or pandas' NA/NaT markers (checked by type name: pandas is never imported here)."""
    if raw is None or type(raw).__name__ in ("NAType", "NaTType"):
        return True
    return isinstance(raw, float) and math.isnan(raw)


def output_columns(owner: str, columns: object) -> dict[str, str]:
    """Column names for writing: :data:`DEFAULT_COLUMNS` with ``columns`` (role to name) applied."""
    names = dict(DEFAULT_COLUMNS)
    if columns is not None:
        if not isinstance(columns, Mapping):
            raise TypeError(f"{owner}: columns must be a mapping of role to str, got {columns!r}")
        for role, name in columns.items():
            if role not in ROLES or not isinstance(name, str) or not name:
                raise ValueError(f"{owner}: columns[{role!r}] must map a role ({', '.join(ROLES)}) to a name")
            names[role] = name
    taken: dict[str, str] = {}
    for role, name in names.items():
        if name in taken:
            # Two roles in one column: a frame would keep one of them, a file's header would repeat a
            # name its own reader refuses.
            raise ValueError(
                f"{owner}: columns gives roles {taken[name]!r} and {role!r} the same name {name!r}; "
                "each role needs a column of its own"
            )
        taken[name] = role
    return names


def check_series_iterable(owner: str, series: object) -> None:
    """``series`` must be an iterable of series (a single ``MetricSeries`` is a ``TypeError``)."""
    if isinstance(series, MetricSeries) or not isinstance(series, Iterable):
        raise TypeError(f"{owner}: series must be an iterable of MetricSeries, got {series!r}")


def parse_value(raw: object) -> float:
    """A finite float from a cell (a decimal string or a real number); raises :class:`RowError`."""
    if _missing(raw):
        raise RowError("missing value")
    if isinstance(raw, str):
        text = raw.strip()
        if not text:
            raise RowError("empty value")
        if "_" in text:
            raise RowError(f"value {raw!r} is not a number")
        try:
            value = float(text)
        except ValueError:
            raise RowError(f"value {raw!r} is not a number") from None
        if not math.isfinite(value):
            too_big = text.lower().lstrip("+-") not in ("inf", "infinity", "nan")
            reason = "too large for a float" if too_big else "not a finite number"
            raise RowError(f"value {raw!r} is {reason}")
        return value
    if isinstance(raw, bool) or not isinstance(raw, (numbers.Real, Decimal)):
        raise RowError(f"value {raw!r} is a {type(raw).__name__}, expected a number")
    try:
        value = float(raw)
    except (OverflowError, TypeError, ValueError):
        raise RowError(f"value {raw!r} is not a finite number") from None
    if not math.isfinite(value):
        raise RowError(f"value {raw!r} is not finite")
    return value


def parse_id(role: str, raw: object) -> str:
    """A non-empty ``str`` id; raises :class:`RowError` naming the role."""
    if isinstance(raw, str):
        if raw and "\x00" not in raw:
            return raw
        if raw:  # (binary data, or UTF-16 read as UTF-8; Python 3.10's csv refuses such a line itself)
            raise RowError(f"{_ID_NAMES[role]} {raw!r} holds a NUL character (a 0 byte)")
        raise RowError(f"empty {_ID_NAMES[role]}")
    if _missing(raw):
        raise RowError(f"missing {_ID_NAMES[role]}")
    raise RowError(f"{_ID_NAMES[role]} {raw!r} is a {type(raw).__name__}, expected a str")


def _mean(values: Sequence[float]) -> float:
    try:
        return math.fsum(values) / len(values)
    except OverflowError:  # the sum of large finite values overflows; the mean does not
        return math.fsum(v / len(values) for v in values)


class RowCollector:
    """Group rows into series, order them in time, apply the duplicate policy, report every issue."""

    def __init__(self, source: str, *, duplicates: str, strict: bool) -> None:
        self.source = source
        self.duplicates = duplicates
        self.strict = strict
        self.rows = 0
        self._points: dict[SeriesIds, list[tuple[int, float, int | None]]] = {}
        self._latest: dict[SeriesIds, tuple[int, int | None]] = {}
        self.row_name = "line"
        self._issues: list[LoadIssue] = []

    def record(self, issue: LoadIssue) -> None:
        """Add an issue the caller built (a refused Prometheus series, say)."""
        self._issues.append(issue)

    def refuse(
        self,
        row: int | None,
        reason: str,
        ids: SeriesIds | None = None,
        us: int | None = None,
        *,
        where: str | None = None,
    ) -> None:
        """Record a row that cannot be used; under ``strict`` raise :class:`LoadError` instead."""
        ts = None if us is None else epoch_us_to_datetime(us)
        issue = LoadIssue(row, where or self.where(row), "refused", reason, ids, ts)
        if self.strict:
            raise LoadError(self.source, issue)
        self.record(issue)

    def change(self, row: int | None, reason: str, ids: SeriesIds, us: int) -> None:
        """Record a row used, but not as written."""
        self.record(LoadIssue(row, self.where(row), "changed", reason, ids, epoch_us_to_datetime(us)))

    def where(self, row: int | None) -> str:
        """How a person finds ``row``: ``"line 17"`` (a file) or ``"row 3"`` (a frame)."""
        return f"{self.row_name} {row}"

    def add(self, row: int | None, ids: SeriesIds, us: int, value: float) -> None:
        """One good point of series ``ids``, from ``row``."""
        points = self._points.get(ids)
        if points is None:
            points = self._points[ids] = []
        latest = self._latest.get(ids)
        if latest is None or us > latest[0]:
            self._latest[ids] = (us, row)
        elif us < latest[0]:
            self.change(
                row,
                f"timestamp {epoch_us_to_datetime(us).isoformat()} is earlier than "
                f"{epoch_us_to_datetime(latest[0]).isoformat()} ({self.where(latest[1])}), which the file "
                "gives before it; moved into time order",
                ids,
                us,
            )
        points.append((us, value, row))

    def finish(self) -> Loaded:
        """The series (in order of first appearance) and the report."""
        out: list[MetricSeries] = []
        total = 0
        for ids, points in self._points.items():
            points.sort(key=lambda p: p[0])  # stable: rows with equal timestamps keep file order
            us_out: array[int] = array("q")
            vals_out: array[float] = array("d")
            i = 0
            while i < len(points):
                j = i + 1
                while j < len(points) and points[j][0] == points[i][0]:
                    j += 1
                group = points[i:j]
                us_out.append(group[0][0])
                vals_out.append(group[0][1] if len(group) == 1 else self._merge(ids, group))
                i = j
            total += len(us_out)
            out.append(MetricSeries.from_arrays(*ids, us_out, vals_out))
        issues = sorted(self._issues, key=lambda x: (x.row is None, x.row or 0))
        report = LoadReport(self.source, self.rows, total, len(out), tuple(issues))
        return Loaded(out, report)

    def _merge(self, ids: SeriesIds, group: list[tuple[int, float, int | None]]) -> float:
        ts = epoch_us_to_datetime(group[0][0])
        policy = self.duplicates
        if policy == "error":
            row = group[1][2]
            where = self.where(row)
            raise LoadError(
                self.source,
                LoadIssue(
                    row,
                    where,
                    "refused",
                    f"duplicate timestamp {ts.isoformat()} for series {'/'.join(ids)}, "
                    f"also at {self.where(group[0][2])}; "
                    "pass duplicates='first', 'last' or 'mean' (--duplicates) to merge such rows",
                    ids,
                    ts,
                ),
            )
        if policy in ("first", "last"):
            kept = group[0] if policy == "first" else group[-1]
            for _, value, row in group:
                if row != kept[2]:
                    self.record(
                        LoadIssue(
                            row,
                            self.where(row),
                            "merged",
                            f"same series and timestamp as {self.where(kept[2])}; value {value!r} dropped, "
                            f"{kept[1]!r} kept (duplicates={policy!r})",
                            ids,
                            ts,
                        )
                    )
            return kept[1]
        mean = _mean([p[1] for p in group])
        wheres = ", ".join(self.where(p[2]) for p in group)
        for _, value, row in group:
            self.record(
                LoadIssue(
                    row,
                    self.where(row),
                    "merged",
                    f"same series and timestamp as {wheres}; value {value!r} averaged into {mean!r} "
                    "(duplicates='mean')",
                    ids,
                    ts,
                )
            )
        return mean
