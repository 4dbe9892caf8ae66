"""Unit tests of the simulator's outputs (CSV, JSON Lines, ground truth, store) and its command line."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import pytest

from backend.analytics import MetricSeries
from backend.analytics.store import SQLiteMetricStore
from simulator import AnomalyMix, Fleet, FleetConfig
from simulator.__main__ import _Prefixed, main
from simulator.output import read_series_csv, write_fleet, write_to_store

REPO = Path(__file__).resolve().parents[2]
TOML = """
seed = 3
step_seconds = 600
points = 432
metrics = ["cpu", "error_rate", "latency_p99"]
[tenant_defaults]
clusters = 1
nodes_per_cluster = 2
[[tenants]]
name = "acme"
[[tenants]]
name = "globex"
noisy = true
"""


def tiny() -> Fleet:
    return Fleet(
        FleetConfig.uniform(
            tenants=2,
            clusters=1,
            nodes_per_cluster=2,
            points=300,
            step_seconds=600,
            missing_rate=0.02,
            jitter=0.3,
            metrics=("cpu", "requests_total"),
            seed=4,
        )
    )


def test_files_are_byte_identical_across_runs(tmp_path: Path) -> None:
    """Two runs of the same configuration write byte-identical files."""
    a = write_fleet(tiny(), tmp_path / "a", fmt="both")
    b = write_fleet(tiny(), tmp_path / "b", fmt="both")
    assert sorted(a) == sorted(b) == ["ground_truth.csv", "ground_truth.json", "series.csv", "series.jsonl"]
    for name in a:
        assert a[name].read_bytes() == b[name].read_bytes(), name


def test_csv_and_jsonl_hold_the_series(tmp_path: Path) -> None:
    """series.csv and series.jsonl read back to the generated points exactly."""
    fleet = tiny()
    paths = write_fleet(fleet, tmp_path, fmt="both")
    expected = [(s.ids, list(s.epoch_us), s.values.tolist()) for s in fleet.iter_series()]
    from_csv = [(s.ids, list(s.epoch_us), s.values.tolist()) for s in read_series_csv(paths["series.csv"])]
    assert from_csv == expected
    lines = paths["series.jsonl"].read_text(encoding="utf-8").splitlines()
    from_jsonl = [MetricSeries.from_dict(json.loads(line)) for line in lines]
    assert [(s.ids, list(s.epoch_us), s.values.tolist()) for s in from_jsonl] == expected


def test_ground_truth_files(tmp_path: Path) -> None:
    """ground_truth.json holds the configuration, every label and every incident."""
    fleet = tiny()
    write_fleet(fleet, tmp_path, fmt="none")
    doc = json.loads((tmp_path / "ground_truth.json").read_text(encoding="utf-8"))
    assert doc["config"] == fleet.config.to_dict()
    assert doc["labels"] == [g.to_dict() for g in fleet.ground_truth]
    assert len(doc["incidents"]) == len(fleet.incidents)
    rows = (tmp_path / "ground_truth.csv").read_text(encoding="utf-8").splitlines()
    assert rows[0].startswith("incident_id,tenant_id,cluster_id,node_id,metric_name,kind,start,end")
    assert len(rows) == 1 + len(fleet.ground_truth)
    assert not (tmp_path / "series.csv").exists()


def test_write_fleet_rejects_an_unknown_format(tmp_path: Path) -> None:
    """fmt must be one of the four names."""
    with pytest.raises(ValueError, match=r"write_fleet: fmt must be one of .*got 'xml'"):
        write_fleet(tiny(), tmp_path, fmt="xml")


@pytest.mark.parametrize("chunk_points", [None, 64])
def test_store_receives_every_point(tmp_path: Path, chunk_points: int | None) -> None:
    """Writing to the SQLite reference store, whole or in slices, stores the series exactly."""
    fleet = tiny()
    with SQLiteMetricStore(tmp_path / "fleet.db", synchronous="NORMAL") as store:
        n = write_to_store(fleet, store, chunk_points=chunk_points)
        assert n == sum(len(s) for s in fleet.iter_series())
        lo, hi = datetime(2000, 1, 1, tzinfo=timezone.utc), datetime(2100, 1, 1, tzinfo=timezone.utc)
        for s in fleet.iter_series():
            got = store.get_metric_series(*s.ids, lo, hi)
            assert list(got.epoch_us) == list(s.epoch_us) and got.values.tolist() == s.values.tolist()


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    """--help exits 0 and names generate and demo."""
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "generate" in out and "demo" in out


def test_demo_with_an_unknown_engine_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--engine", "zcore", "--quiet"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "unknown engine 'zcore'" in err and "zscore" in err and "Traceback" not in err


def test_generate_refuses_chunk_points_without_a_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--chunk-points slices the store's writes; without --store it did nothing, silently."""
    with pytest.raises(SystemExit) as exc:
        main(["generate", "--out", str(tmp_path / "o"), "--chunk-points", "5", "--quiet"])
    assert exc.value.code == 2
    assert "--chunk-points slices the writes to --store" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_demo_refuses_a_report_path_it_cannot_write_before_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import simulator.__main__ as cli

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the demo ran before the report path was checked")

    monkeypatch.setattr(cli, "run_demo", never)
    for path, why in ((tmp_path / "missing" / "x.html", "does not exist"), (tmp_path, "is a directory")):
        with pytest.raises(SystemExit) as exc:
            main(["demo", "--quiet", "--report", str(path)])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert f"--report {path}: " in err and why in err and "Traceback" not in err


def test_generate_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """generate --config --out writes the files and reports them."""
    cfg = tmp_path / "fleet.toml"
    cfg.write_text(TOML, encoding="utf-8")
    assert main(["generate", "--config", str(cfg), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    assert (tmp_path / "out" / "series.csv").stat().st_size > 0
    assert "ground_truth.json" in capsys.readouterr().out


def test_bad_configuration_is_a_clean_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A configuration error exits with status 2 and a one-line message, no traceback."""
    cfg = tmp_path / "bad.toml"
    cfg.write_text("step_seconds = 7\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exc:
        main(["generate", "--config", str(cfg), "--out", str(tmp_path / "out")])
    assert exc.value.code == 2
    assert "step_seconds: expected a divisor of 86400" in capsys.readouterr().err


def test_demo_command_prints_the_summary(tmp_path: Path) -> None:
    """python -m simulator demo (small config) prints top nodes, ground truth, precision and recall."""
    cfg = tmp_path / "fleet.toml"
    cfg.write_text(TOML, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "simulator", "demo", "--config", str(cfg)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    out = proc.stdout
    assert "Tenant acme" in out and "Tenant globex [noisy neighbour]" in out
    assert "#1 cluster-1/node-" in out and "injected " in out
    assert "Precision " in out and "Recall " in out
    assert "detecting (series)" in proc.stderr  # progress goes to stderr, not into the summary
    # Not a terminal: whole lines, not one line rewritten with carriage returns.
    assert "\r" not in proc.stderr and proc.stderr.rstrip().splitlines()[-1].endswith("(100%)")


def test_demo_writes_its_sentences_to_an_ascii_console(tmp_path: Path) -> None:
    """A console that encodes only ASCII (PYTHONIOENCODING=ascii, LANG=C on some systems) gets the whole
    summary, a range's dash written as "-": the command stopped at the first sentence, with exit 2."""
    cfg = tmp_path / "fleet.toml"
    cfg.write_text(TOML, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "simulator", "demo", "--config", str(cfg), "--quiet"],
        capture_output=True,
        cwd=REPO,
        env={**os.environ, "PYTHONIOENCODING": "ascii"},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode("ascii", "replace")
    out = proc.stdout.decode("ascii")  # (strict: every byte is ASCII)
    assert "Precision " in out and re.search(r"at \d\d:\d\d-\d\d:\d\d UTC on", out), out[-2000:]


def test_demo_with_no_anomalies_reports_perfect_recall() -> None:
    """With nothing injected, recall is vacuous (1.0) and every detection is a false alarm."""
    from simulator.demo import run_demo

    report = run_demo(
        FleetConfig.uniform(
            tenants=1,
            clusters=1,
            nodes_per_cluster=1,
            points=300,
            step_seconds=600,
            anomalies=AnomalyMix.none(),
            metrics=("memory",),
        )
    )
    ev = report.evaluation
    assert ev.records == 0 and ev.recall == 1.0
    assert ev.matched_detections == 0


def test_demo_streaming_in_slices_gives_the_same_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """demo --chunk-points N prints the same summary as the whole-series run (timing line aside)."""
    cfg = tmp_path / "fleet.toml"
    cfg.write_text(TOML, encoding="utf-8")
    outputs = []
    for extra in ([], ["--chunk-points", "50"]):
        assert main(["demo", "--config", str(cfg), "--quiet", *extra]) == 0
        lines = capsys.readouterr().out.splitlines()
        outputs.append([ln for ln in lines if not ln.startswith("Detection:")])
    assert outputs[0] == outputs[1]


def test_demo_report_writes_the_html_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """demo --report PATH writes the HTML report: a heat map and one plot per top node with an anomaly."""
    cfg = tmp_path / "fleet.toml"
    cfg.write_text(TOML, encoding="utf-8")
    page = tmp_path / "demo.html"
    assert main(["demo", "--config", str(cfg), "--quiet", "--top", "2", "--report", str(page)]) == 0
    assert f"wrote the HTML report {page}" in capsys.readouterr().out
    html = page.read_text(encoding="utf-8")
    assert html.count('<svg class="heatmap"') == 1
    assert 1 <= html.count('<svg class="plot"') <= 2 * 2  # two tenants, --top 2
    assert "acme" in html and "globex" in html


# -- issue 14: the command line refuses bad arguments before any work ----------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["demo", "--chunk-points", "0"], "argument --chunk-points: expected an int >= 1, got 0"),
        (
            ["generate", "--out", "OUT", "--chunk-points", "0"],
            "argument --chunk-points: expected an int >= 1",
        ),
        (["demo", "--top", "-1"], "argument --top: expected an int >= 0, got -1"),
        (["demo", "--top", "many"], "argument --top: expected an int >= 0, got 'many'"),
    ],
)
def test_bad_numbers_are_usage_errors_before_any_work(
    argv: list[str],
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--chunk-points 0 and --top -1 exit 2 with a usage message; no fleet is simulated first."""
    import simulator.__main__ as cli

    def no_work(*args: object, **kwargs: object) -> None:
        raise AssertionError("the fleet was built before the argument was checked")

    monkeypatch.setattr(cli, "Fleet", no_work)
    monkeypatch.setattr(cli, "run_demo", no_work)
    argv = [str(tmp_path / "out") if a == "OUT" else a for a in argv]
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_library_entry_points_check_chunk_points_and_top(tmp_path: Path) -> None:
    """run_demo, detect_fleet and write_to_store refuse chunk_points=0 (not a ZeroDivisionError)."""
    from simulator.demo import run_demo
    from simulator.pipeline import detect_fleet

    with pytest.raises(ValueError, match=r"run_demo.top: expected an int >= 0, got -1"):
        run_demo(top=-1)
    with pytest.raises(ValueError, match=r"run_demo.chunk_points: expected an int >= 1, got 0"):
        run_demo(chunk_points=0)
    with pytest.raises(ValueError, match=r"detect_fleet.chunk_points: expected an int >= 1, got 0"):
        detect_fleet(tiny(), {}, chunk_points=0)
    with SQLiteMetricStore(tmp_path / "m.db") as store:
        with pytest.raises(ValueError, match=r"write_to_store.chunk_points: expected an int >= 1, got 0"):
            write_to_store(tiny(), store, chunk_points=0)
        assert store.list_series("tenant-1") == []


def test_toml_syntax_error_names_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A TOML syntax error is reported with the file's path, line and column, without a traceback."""
    path = tmp_path / "broken.toml"
    path.write_text("seed = 3\npoints = = 1\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--config", str(path)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"{path}: not valid TOML" in err and "line 2" in err
    assert "Traceback" not in err


def test_anomalies_table_merges_with_the_defaults(tmp_path: Path) -> None:
    """An anomalies table changes only the kinds it lists; listing all of them injects exactly those."""
    from simulator.config import load_toml

    partial = tmp_path / "partial.toml"
    partial.write_text("[tenant_defaults.anomalies]\nspikes = 3\n", encoding="utf-8")
    mix = load_toml(partial).tenants[0].anomalies
    assert mix == AnomalyMix(spikes=3)  # every other kind keeps its built-in default
    assert mix.level_shifts == AnomalyMix().level_shifts > 0
    only = tmp_path / "only.toml"
    kinds = ["level_shifts", "ramps", "seasonal", "node_failures", "cluster_incidents"]
    only.write_text(
        "[tenant_defaults.anomalies]\nspikes = 3\n" + "".join(f"{k} = 0\n" for k in kinds), encoding="utf-8"
    )
    cfg = load_toml(only)
    assert cfg.tenants[0].anomalies == AnomalyMix(3, 0, 0, 0, 0, 0)
    fleet = Fleet(cfg)
    assert {g.kind for g in fleet.ground_truth} == {"spike"}


def test_library_warnings_read_as_the_commands_own() -> None:
    """A library log record (a broken plugin, say) is printed as ``python -m simulator: warning: ...``."""
    record = logging.LogRecord("backend.analytics._registry", logging.WARNING, "f", 1, "%s", ("boom",), None)
    assert _Prefixed("python -m simulator").format(record) == "python -m simulator: warning: boom"


def test_generate_warns_when_anomalies_find_no_room(tmp_path: Path) -> None:
    """Anomalies left out for lack of room are a visible warning of the command, with asked vs placed."""
    cfg = tmp_path / "crowded.toml"
    cfg.write_text(
        "points = 576\nstep_seconds = 600\n[tenant_defaults]\nclusters = 1\nnodes_per_cluster = 2\n"
        '[tenant_defaults.anomalies]\nspikes = 5000\n[[tenants]]\nname = "acme"\n',
        encoding="utf-8",
    )
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "simulator", "generate", "--config", str(cfg), "--out", str(out), "--quiet"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    doc = json.loads((out / "ground_truth.json").read_text(encoding="utf-8"))
    [spikes] = [p for p in doc["placement"] if p["anomalies"] == "spikes"]
    assert spikes["asked"] == 5000 and 0 < spikes["placed"] < 5000
    assert (
        f"python -m simulator: warning: tenant acme: placed fewer anomalies than asked: "
        f"spikes {spikes['placed']} of 5000" in proc.stderr
    )


def test_demo_marks_an_incident_found_exactly_when_the_evaluation_matched_it() -> None:
    """The per-node 'found'/'missed' marks use the evaluation's matches (its slack included)."""
    import io
    import re

    from simulator.config import load_toml
    from simulator.demo import format_report, run_demo

    marks: dict[str, str] = {}
    found: set[str] = set()
    for seed in (3, 4, 5, 6):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "fleet.toml"
            path.write_text(TOML.replace("seed = 3", f"seed = {seed}"), encoding="utf-8")
            report = run_demo(load_toml(path), top=4)
        out = io.StringIO()
        format_report(report, out)
        for inc_id, mark in re.findall(r"\[([^,\]]+#\d+), (found|missed)\]", out.getvalue()):
            marks[f"{seed}:{inc_id}"] = mark
        ev = report.evaluation
        found |= {f"{seed}:{report.fleet.ground_truth[k].incident_id}" for k in ev.matches}
    assert marks and set(marks.values()) == {"found", "missed"}
    assert {i for i, m in marks.items() if m == "found"} == found & set(marks)
