"""Load a NAB corpus (``data/<category>/<file>.csv`` + ``labels/combined_windows.json``).

:func:`load_nab_corpus` reads every data file under a corpus root into a
:class:`~backend.analytics.MetricSeries` plus its label windows resolved on the
file's *original* rows (:class:`~.nab.NABFileLabels`), so that NAB scores are
always computed on NAB's rows.

Timestamps are read as UTC (NAB's files carry no offset). Some NAB files hold
duplicate or out-of-order timestamps, which ``MetricSeries`` rejects. The caller
chooses what happens, explicitly (there is no default):

- ``on_bad_timestamps="reject"``: raise ``ValueError`` naming every offending
  file, row (0-based data row) and CSV line.
- ``on_bad_timestamps="repair"``: the series is built by a stable sort of the
  rows by timestamp, keeping for each timestamp the first row in file order
  (later rows with the same timestamp are dropped, whether or not their values
  agree). Every dropped or moved row is reported in :attr:`NABFile.repairs`
  (file, row, line, what was done) and logged at WARNING. Each original row
  maps to the series point with its timestamp (:attr:`NABFile.row_map`), and
  :meth:`NABFile.to_original_rows` turns per-point scores back into one score
  per original row: a dropped duplicate gets the score of the kept row with
  the same timestamp, which is causal (that point is not later in time).

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> (root / "data" / "demo").mkdir(parents=True)
>>> _ = (root / "data" / "demo" / "a.csv").write_text(
...     "timestamp,value\\n2020-01-01 00:00:00,1\\n2020-01-01 00:05:00,2\\n2020-01-01 00:05:00,3\\n")
>>> (root / "labels").mkdir()
>>> _ = (root / "labels" / "combined_windows.json").write_text('{"demo/a.csv": []}')
>>> corpus = load_nab_corpus(root, on_bad_timestamps="repair")
>>> f = corpus.files[0]
>>> f.name, len(f.series), f.labels.n_rows, f.row_map, [r.action for r in f.repairs]
('demo/a.csv', 2, 3, (0, 1, 1), ['dropped_duplicate'])
>>> f.to_original_rows([0.0, 0.5])
[0.0, 0.5, 0.5]
"""

from __future__ import annotations

import csv
import fnmatch
import io
import json
import logging
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal

from .._validate import brief
from ..types import MetricSeries, datetime_to_epoch_us
from .nab import NAB_PROBATION_PERCENT, NABFileLabels, resolve_windows

__all__ = [
    "BadTimestampPolicy",
    "NABCorpus",
    "NABFile",
    "TimestampRepair",
    "load_nab_corpus",
]

logger = logging.getLogger(__name__)

BadTimestampPolicy = Literal["reject", "repair"]

#: The ids given to NAB series: tenant "nab", cluster = category, node = file stem.
NAB_TENANT = "nab"
NAB_METRIC = "value"


@dataclass(frozen=True, slots=True)
class TimestampRepair:
    """One row the ``"repair"`` policy changed.

    ``row`` is the 0-based data row, ``line`` the 1-based line in the CSV file
    (header = line 1). ``action`` is ``"dropped_duplicate"`` (same timestamp as
    an earlier row, which was kept) or ``"moved"`` (kept, but earlier in time
    than the row before it in the file).
    """

    file: str
    row: int
    line: int
    timestamp: str
    action: Literal["dropped_duplicate", "moved"]
    detail: str

    def __str__(self) -> str:
        return f"{self.file} row {self.row} (line {self.line}) {self.timestamp}: {self.action}: {self.detail}"


@dataclass(frozen=True, slots=True)
class NABFile:
    """One NAB data file: its series, its labels on the original rows, its repairs.

    ``series`` holds strictly ascending points (repaired if needed).
    ``labels`` are resolved on the file's original rows, and ``row_map[i]`` is
    the index in ``series`` of original row ``i``'s timestamp.
    """

    name: str
    category: str
    series: MetricSeries
    labels: NABFileLabels
    row_map: tuple[int, ...]
    repairs: tuple[TimestampRepair, ...]

    @property
    def n_rows(self) -> int:
        """Rows in the original file (what NAB scores)."""
        return self.labels.n_rows

    def to_original_rows(self, point_scores: Sequence[float]) -> list[float]:
        """Map one score per series point to one score per original file row."""
        if len(point_scores) != len(self.series):
            raise ValueError(
                f"NABFile({self.name!r}).to_original_rows: expected {len(self.series)} point scores, "
                f"got {len(point_scores)}"
            )
        return [point_scores[j] for j in self.row_map]


@dataclass(frozen=True, slots=True)
class NABCorpus:
    """The loaded files of a NAB corpus, in sorted name order."""

    root: str
    files: tuple[NABFile, ...]

    def __iter__(self) -> Iterator[NABFile]:
        return iter(self.files)

    def __len__(self) -> int:
        return len(self.files)

    @property
    def repairs(self) -> tuple[TimestampRepair, ...]:
        """Every repair made while loading, file by file."""
        return tuple(r for f in self.files for r in f.repairs)

    @property
    def n_rows(self) -> int:
        """Total original rows over all files."""
        return sum(f.n_rows for f in self.files)

    def split(self, every: int = 3) -> tuple[NABCorpus, NABCorpus]:
        """A fixed design / held-out split, stratified by category: ``(design, holdout)``.

        Within each category, in name order, every ``every``-th file (the 3rd,
        6th, ... for the default 3) is held out: about a third of the corpus,
        never chosen by looking at scores or labels.
        """
        if isinstance(every, bool) or not isinstance(every, int) or every < 2:
            raise ValueError(f"NABCorpus.split: every must be an int >= 2, got {every!r}")
        design: list[NABFile] = []
        holdout: list[NABFile] = []
        position: dict[str, int] = {}
        for f in self.files:
            k = position.get(f.category, 0)
            position[f.category] = k + 1
            (holdout if k % every == every - 1 else design).append(f)
        return NABCorpus(self.root, tuple(design)), NABCorpus(self.root, tuple(holdout))

    def select(self, patterns: Iterable[str]) -> NABCorpus:
        """The files whose name matches any ``fnmatch`` pattern (e.g. ``"realTweets/*"``)."""
        return NABCorpus(self.root, _select(self.files, list(patterns)))


def _select(files: Sequence[NABFile], patterns: Sequence[str]) -> tuple[NABFile, ...]:
    for pattern in patterns:
        if not any(fnmatch.fnmatchcase(f.name, pattern) for f in files):
            raise ValueError(f"NAB corpus: file pattern {pattern!r} matches no data file")
    return tuple(f for f in files if any(fnmatch.fnmatchcase(f.name, p) for p in patterns))


def _to_epoch_us(text: str) -> int:
    """Epoch microseconds of an ISO timestamp; a naive one is taken as UTC."""
    stamp = datetime.fromisoformat(text)
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=timezone.utc)
    return datetime_to_epoch_us(stamp)


def _decode(raw: bytes, what: str) -> str:
    """``raw`` as UTF-8 text; otherwise a ValueError naming ``what``, the line and the byte offset."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        bad = raw[exc.start : exc.end]
        raise ValueError(
            f"{what} line {line}: expected UTF-8 text, got the byte(s) {bad!r} at byte offset "
            f"{exc.start} ({exc.reason})"
        ) from None


def _read_csv(path: str, name: str) -> tuple[list[str], list[int], list[float]]:
    texts: list[str] = []
    stamps: list[int] = []
    values: list[float] = []
    with open(path, "rb") as binary:
        text = _decode(binary.read(), f"NAB file {name!r}")
    with io.StringIO(text, newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or [h.strip() for h in header] != ["timestamp", "value"]:
            raise ValueError(f"NAB file {name!r} line 1: expected header 'timestamp,value', got {header!r}")
        for row, fields in enumerate(reader):
            where = f"NAB file {name!r} row {row} (line {row + 2})"
            if len(fields) != 2:
                raise ValueError(
                    f"{where}: expected 2 fields 'timestamp,value', got {len(fields)}: {brief(fields)}"
                )
            try:
                stamps.append(_to_epoch_us(fields[0]))
            except ValueError:
                raise ValueError(f"{where}: expected an ISO 8601 timestamp, got {fields[0]!r}") from None
            try:
                value = float(fields[1])
            except ValueError:
                raise ValueError(f"{where}: expected a finite number, got {fields[1]!r}") from None
            if not math.isfinite(value):
                raise ValueError(f"{where}: expected a finite number, got {fields[1]!r}")
            texts.append(fields[0])
            values.append(value)
    return texts, stamps, values


def _problems(name: str, texts: Sequence[str], stamps: Sequence[int]) -> list[str]:
    """Rows whose timestamp is not later than every earlier row's."""
    out = []
    latest = 0
    for i in range(1, len(stamps)):
        if stamps[i - 1] > stamps[latest]:
            latest = i - 1
        if stamps[i] <= stamps[latest]:
            kind = "the same as" if stamps[i] == stamps[latest] else "earlier than"
            out.append(
                f"{name} row {i} (line {i + 2}): timestamp {texts[i]} is {kind} "
                f"row {latest}'s {texts[latest]}"
            )
    return out


def _repair(
    name: str, texts: Sequence[str], stamps: Sequence[int], values: Sequence[float]
) -> tuple[list[int], list[float], list[int], list[TimestampRepair]]:
    """Stable sort by time, keep the first row of each timestamp; map rows to points."""
    order = sorted(range(len(stamps)), key=stamps.__getitem__)
    kept_us: list[int] = []
    kept_values: list[float] = []
    kept_row: list[int] = []
    point_of_row = [0] * len(stamps)
    repairs: list[TimestampRepair] = []
    for i in order:
        if kept_us and kept_us[-1] == stamps[i]:
            first = kept_row[-1]
            same = values[i] == values[first]
            detail = f"same timestamp as row {first}, which was kept" + (
                "" if same else f" (value {values[i]!r} differs from the kept {values[first]!r})"
            )
            repairs.append(TimestampRepair(name, i, i + 2, texts[i], "dropped_duplicate", detail))
        else:
            kept_us.append(stamps[i])
            kept_values.append(values[i])
            kept_row.append(i)
            if i > 0 and stamps[i] < stamps[i - 1]:
                detail = f"earlier than row {i - 1} ({texts[i - 1]}); placed in time order"
                repairs.append(TimestampRepair(name, i, i + 2, texts[i], "moved", detail))
        point_of_row[i] = len(kept_us) - 1
    repairs.sort(key=lambda r: r.row)
    return kept_us, kept_values, point_of_row, repairs


_PAIRS = "a list of [start, end] pairs of ISO 8601 timestamps"


def _read_windows(path: str) -> dict[str, list[tuple[int, int]]]:
    with open(path, "rb") as binary:
        text = _decode(binary.read(), f"NAB labels {path!r}")

    def unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
        seen: dict[str, object] = {}
        for key, value in pairs:
            if key in seen:
                raise ValueError(
                    f"NAB labels {path!r}: key {key!r} appears twice in one JSON object; "
                    f"expected one entry per file"
                )
            seen[key] = value
        return seen

    try:
        raw = json.loads(text, object_pairs_hook=unique_keys)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"NAB labels {path!r} line {exc.lineno} column {exc.colno}: expected a JSON object "
            f"of file -> {_PAIRS}, got malformed JSON ({exc.msg})"
        ) from None
    if not isinstance(raw, dict):
        raise ValueError(
            f"NAB labels {path!r}: expected a JSON object of file -> {_PAIRS}, "
            f"got {brief(raw)} ({type(raw).__name__})"
        )
    windows: dict[str, list[tuple[int, int]]] = {}
    for name, pairs in raw.items():
        where = f"NAB labels {path!r}: entry {name!r}"
        if not isinstance(pairs, list):
            raise ValueError(f"{where}: expected {_PAIRS}, got {brief(pairs)} ({type(pairs).__name__})")
        parsed = []
        for k, pair in enumerate(pairs):
            if not (isinstance(pair, list) and len(pair) == 2):
                raise ValueError(
                    f"{where}[{k}]: expected a [start, end] pair (the entry must be {_PAIRS}), "
                    f"got {brief(pair)}"
                )
            try:
                parsed.append((_to_epoch_us(pair[0]), _to_epoch_us(pair[1])))
            except (TypeError, ValueError):
                raise ValueError(
                    f"{where}[{k}]: expected a [start, end] pair of ISO 8601 timestamps "
                    f"(the entry must be {_PAIRS}), got {brief(pair)}"
                ) from None
        windows[name] = parsed
    return windows


def _data_files(data_dir: str) -> list[str]:
    names: list[str] = []
    for category in sorted(os.listdir(data_dir)):
        folder = os.path.join(data_dir, category)
        if os.path.isdir(folder):
            names.extend(f"{category}/{f}" for f in sorted(os.listdir(folder)) if f.endswith(".csv"))
    return names


def load_nab_corpus(
    root: str | os.PathLike[str],
    *,
    on_bad_timestamps: BadTimestampPolicy,
    files: Iterable[str] | None = None,
    probation_percent: float = NAB_PROBATION_PERCENT,
) -> NABCorpus:
    """Load the NAB corpus under ``root`` (holding ``data/`` and ``labels/``).

    ``on_bad_timestamps`` (required): ``"reject"`` or ``"repair"``, see the
    module docstring. ``files``: ``fnmatch`` patterns over names like
    ``"realKnownCause/nyc_taxi.csv"`` (default: every file); a pattern that
    matches nothing raises ``ValueError``, and so does a data file that has no
    entry in the labels file, and a file the labels list (and the patterns
    match, when ``files`` is given) that is missing from ``data/``.

    The data files and the labels file must be UTF-8; each CSV row must hold
    exactly two fields, ``timestamp,value``. A malformed labels file (bad JSON,
    an entry that is not a list of ``[start, end]`` pairs) raises
    ``ValueError`` naming the labels file and the entry.
    """
    if on_bad_timestamps not in ("reject", "repair"):
        raise ValueError(
            f"load_nab_corpus: on_bad_timestamps must be 'reject' or 'repair', got {on_bad_timestamps!r}"
        )
    root_text = os.fspath(root)
    data_dir = os.path.join(root_text, "data")
    labels_path = os.path.join(root_text, "labels", "combined_windows.json")
    if not os.path.isdir(data_dir):
        raise ValueError(f"load_nab_corpus: root must hold a data/ folder, got {root_text!r}")
    windows = _read_windows(labels_path)
    names = _data_files(data_dir)
    wanted = sorted(windows)  # the files the labels list: every one must be loaded
    if files is not None:
        patterns = list(files)
        for pattern in patterns:
            if not any(fnmatch.fnmatchcase(n, pattern) for n in names):
                raise ValueError(f"load_nab_corpus: file pattern {pattern!r} matches no data file")
        names = [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in patterns)]
        wanted = [n for n in wanted if any(fnmatch.fnmatchcase(n, p) for p in patterns)]
    present = set(names)
    missing = [n for n in wanted if n not in present]
    if missing:
        limited = "" if files is None else " (among those matching the file patterns)"
        raise ValueError(
            f"load_nab_corpus: {len(missing)} data files listed in {labels_path!r}{limited} are "
            f"missing from {data_dir!r}: {', '.join(repr(n) for n in missing[:20])}"
            f"{f' and {len(missing) - 20} more' if len(missing) > 20 else ''}; expected every "
            f"labelled file to be present (pass files= to load a subset)"
        )
    loaded: list[NABFile] = []
    problems: list[str] = []
    for name in names:
        if name not in windows:
            raise ValueError(f"load_nab_corpus: data file {name!r} has no entry in {labels_path!r}")
        texts, stamps, values = _read_csv(os.path.join(data_dir, *name.split("/")), name)
        labels = resolve_windows(name, stamps, windows[name], probation_percent=probation_percent)
        bad = _problems(name, texts, stamps)
        if bad and on_bad_timestamps == "reject":
            problems.extend(bad)
            continue
        repairs: list[TimestampRepair] = []
        if bad:
            stamps_ok, values_ok, row_map, repairs = _repair(name, texts, stamps, values)
            for repair in repairs:
                logger.warning("NAB timestamp repair: %s", repair)
        else:
            stamps_ok, values_ok, row_map = stamps, values, list(range(len(stamps)))
        category, stem = name.split("/", 1)
        series = MetricSeries.from_arrays(
            NAB_TENANT,
            category,
            stem.removesuffix(".csv"),
            NAB_METRIC,
            stamps_ok,
            values_ok,
            {"source": "NAB", "file": name, "repaired_rows": len(repairs)},
        )
        loaded.append(NABFile(name, category, series, labels, tuple(row_map), tuple(repairs)))
    if problems:
        shown = "; ".join(problems[:20])
        more = f"; and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise ValueError(
            f"load_nab_corpus: {len(problems)} rows break strictly ascending timestamps "
            f"(pass on_bad_timestamps='repair' to fix them by the documented rule): {shown}{more}"
        )
    return NABCorpus(root_text, tuple(loaded))
