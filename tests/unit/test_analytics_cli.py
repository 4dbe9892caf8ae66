"""`python -m backend.analytics`: load (CSV, Prometheus), detect, report and export, as the README shows."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path

import pytest

from backend.analytics import AggregationPipeline, AggregationStrategy
from backend.analytics.cli import COMMANDS, build_parser, main
from backend.analytics.store import SQLiteMetricStore
from backend.analytics.types import epoch_us_to_datetime

from .test_io_prometheus import FakePrometheus

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "metrics.csv"
LOAD_EXAMPLE = [
    "load", "csv", str(EXAMPLE), "--column", "cluster=region", "--column", "node=host",
    "--column", "metric=metric", "--column", "timestamp=time", "--id", "tenant=acme",
    "--timezone", "Europe/Paris", "--duplicates", "last",
]  # fmt: skip


def test_every_command_is_registered() -> None:
    """Each module named in COMMANDS adds its subcommand (the layout other commands plug into)."""
    parser = build_parser()
    for name in COMMANDS:
        assert parser.parse_args([name, *_minimal(name)]).command == name


def _minimal(name: str) -> list[str]:
    return {
        "load": ["csv", "f.csv", "--store", "s.db"],
        "detect": ["--store", "s.db", "--tenant", "t"],
        "fleet": ["--store", "s.db"],
        "report": ["--store", "s.db", "--tenant", "t", "--out", "r.html"],
        "export": ["--store", "s.db", "--tenant", "t"],
    }[name]


def test_csv_to_report_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The README path: load the example CSV, detect with zscore, write the report, export the scores."""
    db = tmp_path / "my.db"
    assert main([*LOAD_EXAMPLE, "--store", str(db)]) == 0
    out = capsys.readouterr().out
    assert "2 refused, 1 merged, 1 changed" in out and "line 12: refused: value 'n/a' is not a number" in out
    assert "wrote 1,150 points of 4 series" in out
    assert main(["detect", "--store", str(db), "--tenant", "acme"]) == 0
    out = capsys.readouterr().out
    assert "zscore on 4 series of tenant acme" in out
    # Both nodes' incidents: web-2's and the +70 ms step in web-1's latency (one day of history).
    assert "eu-west/web-2: score" in out and "eu-west/web-1: score 0.50, 1 anomalous window\n" in out
    html = tmp_path / "r.html"
    assert main(["report", "--store", str(db), "--tenant", "acme", "--out", str(html)]) == 0
    page = html.read_text()
    assert page.count('<svg class="plot"') >= 1 and "web-2" in page
    assert main(["export", "--store", str(db), "--tenant", "acme"]) == 0
    text = capsys.readouterr().out
    assert 'backend_analytics_node_score{tenant="acme",cluster="eu-west",node="web-2",strategy="max"}' in text
    with SQLiteMetricStore(db) as store:
        assert store.result_engines("acme") == ["zscore"]
        assert store.read_aggregates("acme", engine="zscore")


def test_errors_are_one_line_with_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A missing store, an unknown tenant and a bad option give exit status 2 and a one-line reason."""
    with pytest.raises(SystemExit) as info:
        main(["report", "--store", str(tmp_path / "no.db"), "--tenant", "a", "--out", str(tmp_path / "x")])
    assert info.value.code == 2
    assert "no store file" in capsys.readouterr().err
    db = tmp_path / "s.db"
    main([*LOAD_EXAMPLE, "--store", str(db)])
    with pytest.raises(SystemExit):
        main(["report", "--store", str(db), "--tenant", "acme", "--out", str(tmp_path / "r.html")])
    assert "tenant 'acme' has no stored results; run `python -m backend.analytics detect` first" in (
        capsys.readouterr().err
    )
    with pytest.raises(SystemExit):
        main(["load", "csv", str(EXAMPLE), "--store", str(db), "--column", "cluster"])
    assert "--column takes KEY=VALUE, got 'cluster'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        twice = ["--set", "z_threshold=4", "--set", "z_threshold=6"]
        main(["detect", "--store", str(db), "--tenant", "acme", *twice])
    assert "--set gives z_threshold twice (z_threshold=4 and z_threshold=6); give it once" in (
        capsys.readouterr().err
    )


def test_report_picks_one_strategy_and_takes_any_context(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two strategies in a snapshot ask for --strategy; --context or --after past the calendar is clamped."""
    db = tmp_path / "s.db"
    main([*LOAD_EXAMPLE, "--store", str(db)])
    main(["detect", "--store", str(db), "--tenant", "acme"])
    capsys.readouterr()
    html = tmp_path / "r.html"
    with SQLiteMetricStore(db) as store:  # the same snapshot, its node scores by MEAN too
        mean = AggregationPipeline(AggregationStrategy.MEAN).aggregate_nodes(store.read_results("acme"))
        store.write_aggregates(mean, computed_at=_latest_snapshot_time(db), engine="zscore")
    with pytest.raises(SystemExit):
        main(["report", "--store", str(db), "--tenant", "acme", "--out", str(html)])
    assert "holds scores of strategies max, mean; choose one with --strategy" in capsys.readouterr().err
    base = ["report", "--store", str(db), "--tenant", "acme", "--out", str(html)]
    assert main([*base, "--strategy", "mean", "--context", "3000000d"]) == 0
    assert "web-2" in html.read_text()
    assert main([*base, "--strategy", "mean", "--after", "3000000d"]) == 0  # (to the calendar's end)
    assert "web-2" in html.read_text()
    with pytest.raises(SystemExit):
        main([*base, "--strategy", "p95"])
    assert "--strategy p95: the latest snapshot holds max, mean" in capsys.readouterr().err


def _latest_snapshot_time(db: Path) -> datetime:
    with closing(sqlite3.connect(db)) as conn, conn:
        (us,) = conn.execute("SELECT MAX(computed_at_us) FROM aggregated_scores").fetchone()
    return epoch_us_to_datetime(us)


def test_a_load_that_accepts_nothing_fails_and_writes_no_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every row refused (timestamps without an offset, no --timezone): the report, then exit 2, no store."""
    naive = tmp_path / "naive.csv"
    header = "timestamp,tenant_id,cluster_id,node_id,metric_name,value\n"
    naive.write_text(header + "2024-05-01 08:00:00,a,c,n,m,1\n")
    db = tmp_path / "s.db"
    with pytest.raises(SystemExit) as exc:
        main(["load", "csv", str(naive), "--store", str(db)])
    assert exc.value.code == 2
    out, err = capsys.readouterr()
    assert "1 refused" in out and "(--timezone)" in out
    assert "nothing to load: 1 rows read, none accepted" in err
    assert not db.exists()


def test_a_time_without_an_offset_names_its_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["load", "prometheus", "--url", "http://127.0.0.1:9", "--query", "up", "--step", "1m"]
    with pytest.raises(SystemExit) as exc:
        main([*args, "--start", "2024-05-01T00:00:00", "--end", "now", "--store", str(tmp_path / "s.db")])
    assert exc.value.code == 2
    assert "--start expects an ISO 8601 time with a UTC offset such as Z" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*args, "--start", "now", "--end", "tomorrow", "--store", str(tmp_path / "s.db")])
    assert "--end expects an ISO 8601 time" in capsys.readouterr().err


def test_several_engines_need_a_choice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With results of two engines the report asks for --engine, then uses the one named."""
    db = tmp_path / "s.db"
    main([*LOAD_EXAMPLE, "--store", str(db)])
    main(["detect", "--store", str(db), "--tenant", "acme", "--set", "level_points=48"])
    main(["detect", "--store", str(db), "--tenant", "acme", "--engine", "contextual"])
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["report", "--store", str(db), "--tenant", "acme", "--out", str(tmp_path / "r.html")])
    assert "several engines (contextual, zscore); pick one with --engine" in capsys.readouterr().err
    assert main(["report", "--store", str(db), "--tenant", "acme", "--engine", "contextual",
                 "--out", str(tmp_path / "r.html")]) == 0  # fmt: skip


def test_load_from_prometheus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`load prometheus` reads a (fake) server in chunks and stores the series under the mapped ids."""
    fake = FakePrometheus([{"__name__": "node_load1", "team": "acme", "dc": "eu", "instance": "h1:9100"}])
    fake.thread.start()
    try:
        db = tmp_path / "p.db"
        status = main([
            "load", "prometheus", "--url", fake.url, "--query", "node_load1",
            "--start", "2024-05-01T00:00:00Z", "--end", "2024-05-01T01:00:00Z", "--step", "1m",
            "--label", "tenant=team", "--label", "cluster=dc",
            "--label", "node=instance", "--max-points", "25", "--store", str(db),
        ])  # fmt: skip
    finally:
        fake.server.shutdown()
        fake.server.server_close()
    assert status == 0
    assert len(fake.requests) == 3  # 61 instants in chunks of 25
    assert "wrote 61 points of 1 series" in capsys.readouterr().out
    with SQLiteMetricStore(db) as store:
        key = store.list_series("acme")[0]
        assert tuple(key) == ("acme", "eu", "h1:9100", "node_load1")
        span = (datetime(2024, 1, 1, tzinfo=timezone.utc), datetime(2025, 1, 1, tzinfo=timezone.utc))
        s = store.get_metric_series(*key, *span)
        assert len(s) == 61


def test_module_entry_point() -> None:
    """`python -m backend.analytics --help` lists the commands."""
    out = subprocess.run(
        [sys.executable, "-m", "backend.analytics", "--help"], capture_output=True, text=True, check=True
    )
    assert "{load,detect,fleet,report,export}" in out.stdout


def test_the_report_draws_the_band_from_the_history_before_its_plot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`report` reads the points the band needs from before the plot, and plots only --context of them."""
    import math
    import random
    from datetime import timedelta

    from backend.analytics import MetricSeries

    rng = random.Random(3)
    t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
    n = 288 * 4  # four days at 5 minutes: a daily cycle
    values = [100.0 + 20.0 * math.sin(2 * math.pi * i / 288) + rng.gauss(0.0, 1.0) for i in range(n)]
    values[288 * 3 + 100] += 30.0
    stamps = [t0 + timedelta(minutes=5 * i) for i in range(n)]
    db = tmp_path / "s.db"
    with SQLiteMetricStore(db) as store:
        store.write_series(MetricSeries("acme", "eu", "web-1", "rps", stamps, values))
    assert main(["detect", "--store", str(db), "--tenant", "acme"]) == 0
    html = tmp_path / "r.html"
    args = ["report", "--store", str(db), "--tenant", "acme", "--out", str(html), "--context", "6h"]
    assert main(args) == 0
    page = html.read_text()
    assert page.count('class="band"') == 1
    # The plot starts 6 hours before the window (--context), not where the band's history starts.
    with SQLiteMetricStore(db) as store:
        (hit,) = [r for r in store.read_results("acme") if r.is_anomalous]
    first = re.search(r'<text[^>]*>(\d\d \w\w\w \d\d:\d\d)</text>', page)
    assert first is not None and first.group(1) == f"{hit.window_start - timedelta(hours=6):%d %b %H:%M}"
    capsys.readouterr()


def test_load_with_a_timezone_folder_name_says_what_was_wrong(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--timezone America`` (a tz folder, not a zone): the usual message naming timezone, no OSError."""
    db = tmp_path / "s.db"
    with pytest.raises(SystemExit) as exc:
        main(["load", "csv", str(EXAMPLE), "--store", str(db), "--timezone", "America"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "read_csv: timezone must be an IANA zone name such as 'UTC' or 'Europe/Paris', got 'America'" in (
        err
    )
    assert "Errno" not in err and not db.exists()


def test_load_prometheus_takes_a_step_or_samples_not_both(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--step reads Prometheus's evaluation on a grid, --samples the raw samples: one of them is needed."""
    base = ["load", "prometheus", "--url", "http://127.0.0.1:9", "--query", "up", "--start", "now"]
    base += ["--store", str(tmp_path / "s.db")]
    for extra, said in (
        ([], "give --step (the scrape interval), or --samples to read the raw samples"),
        (["--samples", "--step", "1m"], "--samples reads each sample at its own time: give no --step"),
    ):
        with pytest.raises(SystemExit) as exc:
            main([*base, *extra])
        assert exc.value.code == 2 and said in capsys.readouterr().err
