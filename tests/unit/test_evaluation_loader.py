"""Unit tests for the NAB corpus loader (layout, labels, bad-timestamp policies)."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

from backend.analytics.evaluation import load_nab_corpus

CLEAN = [f"2020-01-01 00:{m:02d}:00,{m}" for m in range(0, 60, 5)]  # 12 rows
# Row 3 repeats row 2's timestamp with another value; row 6 goes back in time (to row 4's slot).
BAD = [
    "2020-01-01 00:00:00,1",
    "2020-01-01 00:05:00,2",
    "2020-01-01 00:10:00,3",
    "2020-01-01 00:10:00,30",
    "2020-01-01 00:20:00,5",
    "2020-01-01 00:25:00,6",
    "2020-01-01 00:15:00,4",
    "2020-01-01 00:30:00,7",
]


def make_corpus(root: Path, files: dict[str, list[str]], windows: dict[str, list[list[str]]]) -> Path:
    for name, rows in files.items():
        path = root / "data" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("timestamp,value\n" + "\n".join(rows) + "\n")
    (root / "labels").mkdir(parents=True, exist_ok=True)
    (root / "labels" / "combined_windows.json").write_text(json.dumps(windows))
    return root


@pytest.fixture
def corpus_root(tmp_path: Path) -> Path:
    return make_corpus(
        tmp_path,
        {"good/clean.csv": CLEAN, "real/bad.csv": BAD},
        {
            "good/clean.csv": [["2020-01-01 00:20:00.000000", "2020-01-01 00:30:00.000000"]],
            "real/bad.csv": [["2020-01-01 00:20:00.000000", "2020-01-01 00:15:00.000000"]],
        },
    )


def test_clean_file_loads_as_series(corpus_root: Path) -> None:
    """Ids are nab / category / file stem / value; labels are resolved on the rows."""
    corpus = load_nab_corpus(corpus_root, on_bad_timestamps="reject", files=["good/*"])
    (f,) = corpus.files
    assert f.series.ids == ("nab", "good", "clean", "value")
    assert f.series.values.tolist() == [float(m) for m in range(0, 60, 5)]
    assert f.series.timestamps[0].isoformat() == "2020-01-01T00:00:00+00:00"
    assert f.labels.windows == ((4, 6),)  # 00:20 is row 4, 00:30 row 6
    assert f.labels.probation == 1  # floor(0.15 * 12)
    assert f.repairs == () and f.row_map == tuple(range(12))


def test_reject_names_file_rows_and_lines(corpus_root: Path) -> None:
    """The reject policy raises, naming every offending row and its CSV line."""
    with pytest.raises(ValueError) as info:
        load_nab_corpus(corpus_root, on_bad_timestamps="reject")
    message = str(info.value)
    assert "2 rows break strictly ascending timestamps" in message
    assert "real/bad.csv row 3 (line 5): timestamp 2020-01-01 00:10:00 is the same as row 2's" in message
    assert "real/bad.csv row 6 (line 8): timestamp 2020-01-01 00:15:00 is earlier than row 5's" in message
    assert "on_bad_timestamps='repair'" in message


def test_repair_drops_duplicate_and_sorts(corpus_root: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Repair: stable sort by time, keep each timestamp's first row, report and log every change."""
    with caplog.at_level(logging.WARNING, logger="backend.analytics.evaluation.loader"):
        corpus = load_nab_corpus(corpus_root, on_bad_timestamps="repair", files=["real/bad.csv"])
    (f,) = corpus.files
    assert f.series.values.tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]  # 30 dropped, 4 moved
    assert [(r.row, r.line, r.action) for r in f.repairs] == [
        (3, 5, "dropped_duplicate"),
        (6, 8, "moved"),
    ]
    assert "differs from the kept 3.0" in f.repairs[0].detail
    assert f.row_map == (0, 1, 2, 2, 4, 5, 3, 6)  # original row -> series point
    assert corpus.repairs == f.repairs
    assert len(caplog.records) == 2
    assert "real/bad.csv row 3 (line 5)" in caplog.records[0].getMessage()


def test_repaired_file_is_scored_on_original_rows(corpus_root: Path) -> None:
    """Labels keep NAB's original rows; point scores map back to one score per original row."""
    (f,) = load_nab_corpus(corpus_root, on_bad_timestamps="repair", files=["real/bad.csv"]).files
    assert f.n_rows == 8 and len(f.series) == 7
    assert f.labels.windows == ((4, 6),)  # 00:20 is original row 4, 00:15 original row 6
    scores = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    assert f.to_original_rows(scores) == [0.0, 0.1, 0.2, 0.2, 0.4, 0.5, 0.3, 0.6]
    with pytest.raises(ValueError, match=r"expected 7 point scores, got 8"):
        f.to_original_rows([0.0] * 8)


def test_policy_is_required_and_checked(corpus_root: Path) -> None:
    """No silent default: the policy must be one of the two names."""
    with pytest.raises(ValueError, match=r"on_bad_timestamps must be 'reject' or 'repair', got 'fix'"):
        load_nab_corpus(corpus_root, on_bad_timestamps="fix")  # type: ignore[arg-type]


def test_unmatched_pattern_is_an_error(corpus_root: Path) -> None:
    """A file pattern that matches nothing raises rather than scoring an empty corpus."""
    with pytest.raises(ValueError, match=r"file pattern 'nope/\*' matches no data file"):
        load_nab_corpus(corpus_root, on_bad_timestamps="repair", files=["nope/*"])


def test_select_filters_loaded_corpus(corpus_root: Path) -> None:
    """select() keeps the files matching any pattern, in name order."""
    corpus = load_nab_corpus(corpus_root, on_bad_timestamps="repair")
    assert [f.name for f in corpus] == ["good/clean.csv", "real/bad.csv"]
    assert [f.name for f in corpus.select(["real/*"])] == ["real/bad.csv"]
    assert corpus.n_rows == 20


def test_file_without_labels_is_an_error(tmp_path: Path) -> None:
    """Every data file needs an entry in combined_windows.json."""
    root = make_corpus(tmp_path, {"c/x.csv": CLEAN}, {})
    with pytest.raises(ValueError, match=r"data file 'c/x.csv' has no entry"):
        load_nab_corpus(root, on_bad_timestamps="reject")


def test_bad_value_names_row_and_line(tmp_path: Path) -> None:
    """A non-numeric or non-finite value is reported with file, row and line."""
    root = make_corpus(tmp_path, {"c/x.csv": [*CLEAN[:3], "2020-01-01 01:00:00,nan"]}, {"c/x.csv": []})
    with pytest.raises(ValueError, match=r"NAB file 'c/x.csv' row 3 \(line 5\): expected a finite number"):
        load_nab_corpus(root, on_bad_timestamps="reject")


def test_window_bound_must_match_a_row(tmp_path: Path) -> None:
    """A label window whose bound is not a row timestamp is rejected, as NAB does."""
    windows = {"c/x.csv": [["2020-01-01 00:21:00.000000", "2020-01-01 00:30:00.000000"]]}
    root = make_corpus(tmp_path, {"c/x.csv": CLEAN}, windows)
    with pytest.raises(ValueError, match=r"window\[0\] start .* matches no row timestamp"):
        load_nab_corpus(root, on_bad_timestamps="reject")


def test_split_holds_out_every_third_file_per_category(tmp_path: Path) -> None:
    """split(): within each category, in name order, the 3rd, 6th, ... file is held out."""
    files = {f"a/{i}.csv": CLEAN for i in range(7)} | {f"b/{i}.csv": CLEAN for i in range(2)}
    root = make_corpus(tmp_path, files, {name: [] for name in files})
    corpus = load_nab_corpus(root, on_bad_timestamps="reject")
    design, holdout = corpus.split()
    assert [f.name for f in holdout] == ["a/2.csv", "a/5.csv"]
    assert len(design) == 7
    with pytest.raises(ValueError, match=r"every must be an int >= 2, got 1"):
        corpus.split(1)


def test_labelled_file_missing_from_data_is_an_error(tmp_path: Path) -> None:
    """A file the labels list but data/ lacks raises, naming it, unless files= leaves it out."""
    windows: dict[str, list[list[str]]] = {"a/x.csv": [], "a/y.csv": [], "b/z.csv": []}
    root = make_corpus(tmp_path, {"a/x.csv": CLEAN, "b/z.csv": CLEAN}, windows)
    with pytest.raises(
        ValueError, match=r"1 data files listed in '.*combined_windows.json' are missing from .*: 'a/y.csv'"
    ):
        load_nab_corpus(root, on_bad_timestamps="reject")
    with pytest.raises(ValueError, match=r"\(among those matching the file patterns\) .*'a/y.csv'"):
        load_nab_corpus(root, on_bad_timestamps="reject", files=["a/*"])
    loaded = load_nab_corpus(root, on_bad_timestamps="reject", files=["a/x.csv", "b/*"])
    assert [f.name for f in loaded] == ["a/x.csv", "b/z.csv"]


def _labels_error(tmp_path: Path, text: str) -> str:
    root = make_corpus(tmp_path, {"c/x.csv": CLEAN}, {})
    (root / "labels" / "combined_windows.json").write_text(text)
    with pytest.raises(ValueError) as info:
        load_nab_corpus(root, on_bad_timestamps="reject")
    return str(info.value)


PAIRS = r"a list of \[start, end\] pairs of ISO 8601 timestamps"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"c/x.csv": [}', rf"line 1 column 14: expected a JSON object of file -> {PAIRS}, got malformed"),
        ('[["c/x.csv"]]', rf": expected a JSON object of file -> {PAIRS}, got \[\['c/x.csv'\]\] \(list\)"),
        ('{"c/x.csv": 2}', rf": entry 'c/x.csv': expected {PAIRS}, got 2 \(int\)"),
        ('{"c/x.csv": "2020"}', rf": entry 'c/x.csv': expected {PAIRS}, got '2020' \(str\)"),
        ('{"c/x.csv": {"a": 1}}', rf": entry 'c/x.csv': expected {PAIRS}, got \{{'a': 1\}} \(dict\)"),
        (
            '{"c/x.csv": ["2020"]}',
            rf": entry 'c/x.csv'\[0\]: expected a \[start, end\] pair "
            rf"\(the entry must be {PAIRS}\), got '2020'",
        ),
        (
            '{"c/x.csv": [[1, 2]]}',
            rf": entry 'c/x.csv'\[0\]: expected a \[start, end\] pair of ISO 8601 timestamps "
            rf"\(the entry must be {PAIRS}\), got \[1, 2\]",
        ),
        ('{"c/x.csv": [], "c/x.csv": []}', r": key 'c/x.csv' appears twice in one JSON object"),
    ],
)
def test_bad_labels_json_names_the_file_and_entry(tmp_path: Path, text: str, expected: str) -> None:
    """Malformed JSON or entry: the message names the labels file, the entry and what was expected."""
    message = _labels_error(tmp_path, text)
    assert message.startswith(f"NAB labels '{tmp_path / 'labels' / 'combined_windows.json'}'"), message
    assert re.search(expected, message), message


def test_non_utf8_csv_names_file_and_line(tmp_path: Path) -> None:
    """A byte that is not UTF-8 is reported with the file, the line and the byte offset."""
    root = make_corpus(tmp_path, {"c/x.csv": CLEAN}, {"c/x.csv": []})
    path = root / "data" / "c" / "x.csv"
    raw = path.read_bytes().replace(b"00:10:00,10", b"00:10:00,1\xe90")
    path.write_bytes(raw)
    with pytest.raises(
        ValueError,
        match=r"NAB file 'c/x.csv' line 4: expected UTF-8 text, got the byte\(s\) b'\\xe9' at byte offset 81",
    ):
        load_nab_corpus(root, on_bad_timestamps="reject")


def test_extra_fields_are_refused(tmp_path: Path) -> None:
    """A third value on a row (or a third header column) is refused, not silently dropped."""
    rows = [*CLEAN[:3], "2020-01-01 00:15:00,3,99", *CLEAN[4:]]
    root = make_corpus(tmp_path, {"c/x.csv": rows}, {"c/x.csv": []})
    with pytest.raises(
        ValueError,
        match=r"NAB file 'c/x.csv' row 3 \(line 5\): expected 2 fields 'timestamp,value', got 3: "
        r"\['2020-01-01 00:15:00', '3', '99'\]",
    ):
        load_nab_corpus(root, on_bad_timestamps="reject")
    (root / "data" / "c" / "x.csv").write_text("timestamp,value,extra\n" + "\n".join(CLEAN) + "\n")
    header = r"line 1: expected header 'timestamp,value', got \['timestamp', 'value', 'extra'\]"
    with pytest.raises(ValueError, match=header):
        load_nab_corpus(root, on_bad_timestamps="reject")
