"""What a loader did to its input: ``LoadIssue``, ``LoadReport``, ``Loaded`` and ``LoadError``.

Every loader in :mod:`backend.analytics.io` returns the series it built plus a
:class:`LoadReport` naming every input row it *refused* (could not use),
*merged* (folded into another row with the same series and timestamp) or
*changed* (used, but not exactly as written: moved into time order, rounded
to microseconds). Nothing is dropped without an issue in the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, NamedTuple

from ..types import MetricSeries

__all__ = ["Action", "LoadError", "LoadIssue", "LoadReport", "Loaded"]

Action = Literal["refused", "merged", "changed"]
_ACTIONS = ("refused", "merged", "changed")


@dataclass(frozen=True, slots=True)
class LoadIssue:
    """One input row that was refused, merged or changed, and why.

    ``row``: for a CSV file, the line number in the file where the record
    starts (the header is line 1); for a DataFrame, the row's position
    (0-based, as ``df.iloc[row]``); ``None`` when the input has no rows
    (Prometheus). ``where`` says the same for a person (``"line 17"``,
    ``"row 3"``, or a Prometheus series' labels). ``series`` and
    ``timestamp`` are filled in when the row got that far.
    """

    row: int | None
    where: str
    action: Action
    reason: str
    series: tuple[str, str, str, str] | None = None
    timestamp: datetime | None = None

    def __post_init__(self) -> None:
        if self.action not in _ACTIONS:
            raise ValueError(f"LoadIssue: action must be one of {', '.join(_ACTIONS)}, got {self.action!r}")

    def __str__(self) -> str:
        return f"{self.where}: {self.action}: {self.reason}"


class LoadError(ValueError):
    """A loader met input it was told not to accept (``strict=True``, or ``duplicates="error"``).

    ``issue`` is the :class:`LoadIssue` that stopped it; the message is the
    issue's text prefixed with the source.
    """

    def __init__(self, source: str, issue: LoadIssue) -> None:
        self.source = source
        self.issue = issue
        super().__init__(f"{source}: {issue}")

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled with its own arguments: an error raised in a worker process reaches the caller whole.
        return (type(self), (self.source, self.issue))


@dataclass(frozen=True, slots=True)
class LoadReport:
    """What a loader read and every row it refused, merged or changed (in input order).

    ``rows``: data rows (or samples) read; ``points``: points in the returned
    series; ``series``: how many series.
    """

    source: str
    rows: int
    points: int
    series: int
    issues: tuple[LoadIssue, ...] = ()

    def _with(self, action: str) -> tuple[LoadIssue, ...]:
        return tuple(i for i in self.issues if i.action == action)

    @property
    def refused(self) -> tuple[LoadIssue, ...]:
        """Rows that could not be used (bad value, bad timestamp, missing id, ...)."""
        return self._with("refused")

    @property
    def merged(self) -> tuple[LoadIssue, ...]:
        """Rows folded into another row with the same series and timestamp (``duplicates=``)."""
        return self._with("merged")

    @property
    def changed(self) -> tuple[LoadIssue, ...]:
        """Rows used, but not as written (moved into time order, rounded to microseconds)."""
        return self._with("changed")

    @property
    def clean(self) -> bool:
        """True when every row was used exactly as written."""
        return not self.issues

    def summary(self) -> str:
        """One line: what was read and how many rows were refused, merged and changed."""
        return (
            f"{self.source}: {self.rows:,} rows read, {self.points:,} points in {self.series:,} series; "
            f"{len(self.refused):,} refused, {len(self.merged):,} merged, {len(self.changed):,} changed"
        )

    def format(self, *, limit: int | None = 20) -> str:
        """The summary, then one line per issue (the first ``limit`` of them; ``None``: all)."""
        lines = [self.summary()]
        shown = self.issues if limit is None else self.issues[:limit]
        lines.extend(f"  {issue}" for issue in shown)
        if len(shown) < len(self.issues):
            lines.append(f"  ... and {len(self.issues) - len(shown):,} more")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()


class Loaded(NamedTuple):
    """A loader's answer: ``series, report = read_csv(...)``."""

    series: list[MetricSeries]
    report: LoadReport
