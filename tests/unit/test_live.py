"""backend.analytics.live: the LiveDetector's point policy (late, duplicate, non-finite), gaps, checkpoint."""

from __future__ import annotations

import pickle
import sqlite3
from contextlib import closing
from datetime import datetime, timedelta, timezone
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from backend.analytics import AnomalyResult, MetricSeries
from backend.analytics.engines.zscore import ZScoreEngine
from backend.analytics.live import CheckpointFile, LiveDetector, LivePoint
from backend.analytics.store import SeriesKey, SQLiteMetricStore

T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
KEY = ("acme", "c-1", "n-1", "cpu")


def values(n: int, seed: int = 0) -> list[float]:
    out = [10.0 + ((i * 7919 + seed * 31) % 13) * 0.1 for i in range(n)]
    if n > 150:
        out[150] = 40.0
    return out


def points(n: int, *, key: tuple[str, str, str, str] = KEY, step: int = 60, seed: int = 0) -> list[LivePoint]:
    return [LivePoint(*key, T0 + timedelta(seconds=step * i), v) for i, v in enumerate(values(n, seed))]


def as_series(pts: list[LivePoint]) -> MetricSeries:
    return MetricSeries(*pts[0][:4], [p.timestamp for p in pts], [p.value for p in pts])


def test_in_order_batches_equal_detect() -> None:
    pts = points(400)
    live = LiveDetector("zscore")
    out: list[AnomalyResult] = []
    for i in range(0, 400, 37):
        out.extend(live.ingest(pts[i : i + 37]))
    assert out == ZScoreEngine().detect(as_series(pts))
    assert any(r.is_anomalous for r in out)
    assert live.stats.accepted == live.stats.received == 400 and live.stats.series == 1


def test_duplicates_late_and_not_finite_are_counted_not_taken() -> None:
    pts = points(200)
    live = LiveDetector("zscore")
    live.ingest(pts[:100])
    extra = [
        pts[99]._replace(value=99.0),  # same instant as the last point: duplicate (first wins)
        pts[50],  # before the last point: late
        pts[100]._replace(value=float("nan")),  # not finite
    ]
    live.ingest(extra)
    rest = live.ingest(pts[100:])
    stats = live.stats
    assert dict(stats.rejected) == {"late": 1, "duplicate": 1, "not_finite": 1, "out_of_domain": 0}
    assert stats.accepted == 200 and stats.received == 203
    reference = ZScoreEngine().detect(as_series(pts))
    assert rest == reference[10:]


def test_lateness_reorders_within_the_bound() -> None:
    pts = points(300)
    shuffled = list(pts)
    for i in range(0, 300, 4):  # swap neighbours in blocks of four
        shuffled[i : i + 4] = [shuffled[i + 2], shuffled[i], shuffled[i + 3], shuffled[i + 1]][
            : len(shuffled[i : i + 4])
        ]
    live = LiveDetector("zscore", lateness=timedelta(minutes=3))
    out = [r for i in range(0, 300, 25) for r in live.ingest(shuffled[i : i + 25])]
    assert live.stats.held > 0
    out.extend(live.flush())
    assert out == ZScoreEngine().detect(as_series(pts))
    assert live.stats.held == 0 and sum(live.stats.rejected.values()) == 0
    # Past the lateness: rejected as late; at a held or released instant: duplicate.
    live.ingest([pts[0]._replace(value=1.0), pts[-1]])
    assert dict(live.stats.rejected) == {"late": 1, "duplicate": 1, "not_finite": 0, "out_of_domain": 0}


def test_a_long_gap_splits_the_stream() -> None:
    first = points(200)
    later = [p._replace(timestamp=p.timestamp + timedelta(days=2)) for p in points(200, seed=3)]
    live = LiveDetector("zscore", max_gap=timedelta(hours=1))
    out = live.ingest(first[:105]) + live.ingest(first[105:] + later)
    engine = ZScoreEngine()
    assert out == engine.detect(as_series(first)) + engine.detect(as_series(later))
    (gap,) = live.gaps
    assert gap.key == KEY and gap.last_before == first[-1].timestamp and gap.first_after == later[0].timestamp
    assert gap.unscored_points == 0  # 200 points: the last window closed exactly
    assert live.stats.gap_splits == 1
    spanning = LiveDetector("zscore")  # no max_gap: one stream spans it
    assert spanning.ingest(first + later) == engine.detect(as_series(first + later))


def test_unscored_points_at_a_gap_are_reported() -> None:
    live = LiveDetector("zscore", max_gap=timedelta(hours=1))
    first = points(95)
    later = [p._replace(timestamp=p.timestamp + timedelta(days=1)) for p in points(20)]
    live.ingest(first + later)
    assert [g.unscored_points for g in live.gaps] == [5]


def test_many_series_interleaved() -> None:
    keys = [("acme", "c-1", f"n-{k}", "cpu") for k in range(3)] + [("beta", "c-1", "n-1", "cpu")]
    streams = {key: points(250, key=key, seed=k) for k, key in enumerate(keys)}
    arrivals = [streams[key][i] for i in range(250) for key in keys]
    live = LiveDetector("zscore")
    out = [r for i in range(0, len(arrivals), 53) for r in live.ingest(arrivals[i : i + 53])]
    engine = ZScoreEngine()
    for key in keys:
        assert [
            r for r in out if (r.tenant_id, r.cluster_id, r.node_id, r.metric_name) == key
        ] == engine.detect(as_series(streams[key]))


def test_checkpoint_and_restore_gives_the_same_results(tmp_path: Path) -> None:
    db = tmp_path / "live.db"
    pts = points(500)
    batches = [pts[i : i + 40] for i in range(0, 500, 40)]
    straight = LiveDetector("zscore")
    expected = [r for b in batches for r in straight.ingest(b)]
    first = LiveDetector(
        "zscore", checkpoints=str(db), checkpoint_every_points=100, checkpoint_every_seconds=None
    )
    assert not first.restored and first.cursor is None
    got: list[AnomalyResult] = []
    for i, b in enumerate(batches[:7]):
        got.extend(first.ingest(b, cursor=i))
    assert first.stats.checkpoints == 2  # after 120 and 240 points (batches 2 and 5)
    second = LiveDetector(
        "zscore", checkpoints=str(db), checkpoint_every_points=100, checkpoint_every_seconds=None
    )
    assert second.restored and second.cursor == 5
    replayed = [r for b in batches[6:] for r in second.ingest(b)]
    # Results up to the checkpoint's batch, then everything from the replay: as if never stopped.
    upto = [r for r in got if r.window_end < batches[6][0].timestamp]
    assert upto + replayed == expected
    assert second.stats.accepted == 500


def test_checkpoint_refuses_another_engine_or_version(tmp_path: Path) -> None:
    db = tmp_path / "live.db"
    live = LiveDetector("zscore", checkpoints=str(db))
    live.ingest(points(30))
    live.checkpoint()
    with pytest.raises(ValueError, match="was made by engine ZScoreEngine"):
        LiveDetector("zscore", {"z_threshold": 4.0}, checkpoints=str(db))
    with pytest.raises(ValueError, match="was made with policy"):
        LiveDetector("zscore", checkpoints=str(db), lateness=timedelta(seconds=5))
    assert LiveDetector("zscore", checkpoints=str(db), name="other").restored is False
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("UPDATE live_detectors SET version = 99")
    with pytest.raises(ValueError, match="checkpointed with version 99"):
        LiveDetector("zscore", checkpoints=str(db))
    CheckpointFile(db).delete("live")
    assert LiveDetector("zscore", checkpoints=str(db)).restored is False


def test_checkpoint_every_seconds_and_sink(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    now = [0.0]
    with SQLiteMetricStore(db) as store:
        live = LiveDetector(
            "zscore",
            checkpoints=str(db),
            checkpoint_every_points=None,
            checkpoint_every_seconds=30,
            sink=store,
            clock=lambda: now[0],
        )
        pts = points(300)
        out = live.ingest(pts[:150])
        assert live.stats.checkpoints == 0
        now[0] = 31.0
        out += live.ingest(pts[150:])
        assert live.stats.checkpoints == 1
        assert store.read_results("acme", engine="zscore") == out
    with pytest.raises(ValueError, match="no checkpoints file was given"):
        LiveDetector("zscore").checkpoint()


class FlakySink:
    """A result sink whose next ``fail`` writes raise, as a locked database would; it keeps rows by window."""

    def __init__(self) -> None:
        self.rows: dict[tuple[object, ...], AnomalyResult] = {}
        self.fail = 0

    def write_results(self, results: list[AnomalyResult], *, engine: str) -> int:
        if self.fail:
            self.fail -= 1
            raise OSError("database is locked")
        for r in results:
            self.rows[(engine, r.tenant_id, r.cluster_id, r.node_id, r.metric_name, r.window_start)] = r
        return len(results)


def test_a_failed_sink_write_loses_no_result() -> None:
    """The batch whose sink write failed is taken; its results come back, and reach the sink, next call."""
    pts = points(400)
    expected = ZScoreEngine().detect(as_series(pts))
    sink = FlakySink()
    live = LiveDetector("zscore", sink=sink)
    out: list[AnomalyResult] = []
    for i in range(0, 400, 50):
        if i == 150:  # (the batch holding the spike at 150)
            sink.fail = 1
            with pytest.raises(OSError, match="database is locked"):
                live.ingest(pts[i : i + 50])
            assert not any(r.is_anomalous for r in out)
            # Sending the batch again is rejected (it was taken): the results come from the next call.
            again = live.ingest(pts[i : i + 50])
            assert live.stats.rejected["duplicate"] + live.stats.rejected["late"] == 50
            out.extend(again)
        else:
            out.extend(live.ingest(pts[i : i + 50]))
    assert out == expected and any(r.is_anomalous for r in out)
    assert sorted(sink.rows.values(), key=lambda r: r.window_start) == expected


def test_a_failed_checkpoint_loses_no_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A checkpoint that fails after the batch was taken: ``ingest([])`` returns its results, then saves."""
    pts = points(400)
    expected = ZScoreEngine().detect(as_series(pts))
    live = LiveDetector("zscore", checkpoints=str(tmp_path / "c.db"), checkpoint_every_points=100)
    out = live.ingest(pts[:100])
    real_save = CheckpointFile.save

    def broken_save(*args: object, **kwargs: object) -> int:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(CheckpointFile, "save", broken_save)
    with pytest.raises(sqlite3.OperationalError):
        live.ingest(pts[100:200])
    with pytest.raises(ValueError, match=r"\d+ results of a call that failed .* ingest\(\[\]\)"):
        live.checkpoint()  # (without a sink, a checkpoint now would put them out of reach)
    monkeypatch.setattr(CheckpointFile, "save", real_save)
    out += live.ingest([])
    assert live.stats.checkpoints == 2
    out += live.ingest(pts[200:]) + live.flush()
    assert out == expected and any(r.is_anomalous for r in out[: len(expected) // 2])


def test_bad_input_is_named_and_leaves_the_detector_unchanged() -> None:
    live = LiveDetector("zscore")
    good = points(3)
    with pytest.raises(ValueError, match=r"LiveDetector: points\[1\]\.timestamp"):
        live.ingest([good[0], good[1]._replace(timestamp=datetime(2024, 5, 1))])
    assert live.stats.received == 0 and live.stats.series == 0
    with pytest.raises(TypeError, match=r"LiveDetector: points\[0\] must be a LivePoint"):
        live.ingest([("a", "b")])
    with pytest.raises(TypeError, match=r"LiveDetector: points\[0\]\.value must be a real number"):
        live.ingest([(*good[0][:5], "1.0")])
    with pytest.raises(ValueError, match=r"LiveDetector: points\[0\]\.node_id"):
        live.ingest([good[0]._replace(node_id="")])
    with pytest.raises(TypeError, match="LiveDetector: engine must be a causal PointScoringEngine"):
        LiveDetector(object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="LiveDetector: lateness must be a non-negative timedelta"):
        LiveDetector("zscore", lateness=timedelta(seconds=-1))
    with pytest.raises(ValueError, match="LiveDetector: max_gap must be a positive timedelta"):
        LiveDetector("zscore", max_gap=timedelta(0))


def test_a_value_the_engine_cannot_take_is_rejected_and_the_batch_goes_on() -> None:
    """zscore(transform="log") cannot take 0: that point is counted, every other series is served."""
    config = {"transform": "log", "window_size_points": 5, "stride_points": 5}
    good = points(300)
    bad = points(300, key=("acme", "c-1", "n-2", "cpu"), seed=3)
    bad[120] = bad[120]._replace(value=0.0)
    live = LiveDetector("zscore", config)
    out = live.ingest(good + bad)
    engine = ZScoreEngine(transform="log", window_size_points=5, stride_points=5)
    assert [r for r in out if r.node_id == "n-1"] == engine.detect(as_series(good))
    assert live.stats.rejected["out_of_domain"] == 1 and live.stats.accepted == 599
    kept = bad[:120] + bad[121:]
    assert [r for r in out if r.node_id == "n-2"] == engine.detect(as_series(kept))
    later = bad[-1]._replace(timestamp=bad[-1].timestamp + timedelta(minutes=1))
    assert len(live.ingest([later])) == 1  # 299 + 1 points: the series goes on (nothing stuck)
    assert live.stats.held == 0
    assert LiveDetector("zscore").ingest([good[0]._replace(value=0.0)]) == []  # no log: 0 is a value


def test_a_cursor_that_cannot_be_saved_is_refused_before_anything_is_taken(tmp_path: Path) -> None:
    live = LiveDetector("zscore", checkpoints=str(tmp_path / "c.db"), checkpoint_every_points=50)
    with pytest.raises(TypeError, match=r"LiveDetector\.ingest: cursor must be a JSON value.*datetime"):
        live.ingest(points(60), cursor=T0)
    assert live.stats.received == 0 and live.stats.checkpoints == 0 and live.stats.series == 0
    with pytest.raises(TypeError, match=r"LiveDetector\.flush: cursor must be a JSON value"):
        live.flush(cursor=float("nan"))
    live.ingest(points(60), cursor={"file": "a.log", "offset": 60})
    assert live.stats.checkpoints == 1


def test_a_failed_checkpoint_is_not_counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    live = LiveDetector("zscore", checkpoints=str(tmp_path / "c.db"), checkpoint_every_points=None)
    live.ingest(points(30))

    def full_disk(*args: object, **kwargs: object) -> int:
        raise OSError("disk full")

    monkeypatch.setattr(CheckpointFile, "save", full_disk)
    with pytest.raises(OSError, match="disk full"):
        live.checkpoint()
    assert live.stats.checkpoints == 0


def test_values_of_numeric_types_and_out_of_float_range() -> None:
    live = LiveDetector("zscore")
    p = points(1)[0]
    live.ingest([p._replace(value=Fraction(3, 2))])  # type: ignore[arg-type] # any Real, not only float
    assert live.stats.accepted == 1
    with pytest.raises(ValueError, match=r"points\[0\]\.value must be a real number within a float's range"):
        live.ingest([p._replace(timestamp=T0 + timedelta(minutes=5), value=10**400)])
    with pytest.raises(TypeError, match=r"points\[0\]\.value must be a real number"):
        live.ingest([p._replace(timestamp=T0 + timedelta(minutes=5), value=True)])


def test_a_damaged_checkpoint_names_the_file_detector_and_series(tmp_path: Path) -> None:
    db = tmp_path / "live.db"
    live = LiveDetector("zscore", checkpoints=str(db))
    live.ingest(points(30))
    live.checkpoint()
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("UPDATE live_series SET state = ?", (b"\x00garbage",))
    series = r"series \('acme', 'c-1', 'n-1', 'cpu'\)"
    with pytest.raises(ValueError, match=rf"state of {series} of detector 'live' in .*live\.db.* cannot"):
        LiveDetector("zscore", checkpoints=str(db))
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("UPDATE live_series SET state = ?", (pickle.dumps({"no": "stream"}),))
    with pytest.raises(ValueError, match=rf"holds a state for {series} .*KeyError"):
        LiveDetector("zscore", checkpoints=str(db))
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("UPDATE live_detectors SET policy = 'not json'")
    with pytest.raises(ValueError, match=r"row of detector 'live' in .*live\.db.* cannot be read"):
        LiveDetector("zscore", checkpoints=str(db))


def test_timestamps_in_any_offset_are_the_same_instants() -> None:
    paris = timezone(timedelta(hours=2))
    pts = points(200)
    shifted = [p._replace(timestamp=p.timestamp.astimezone(paris)) for p in pts]
    assert LiveDetector("zscore").ingest(shifted) == LiveDetector("zscore").ingest(pts)
    live = LiveDetector("zscore")
    with pytest.raises(TypeError, match=r"LiveDetector: points\[0\]\.tenant_id"):
        live.ingest([(["a"], "c", "n", "m", T0, 1.0)])


def test_checkpoint_file_checks_its_arguments_and_reports_a_held_lock(tmp_path: Path) -> None:
    """The checkpoint file takes the store's path and timeout checks, and a database failure is a
    StoreError naming CheckpointFile's method and the file (the store's error handling)."""
    from backend.analytics.errors import StoreError

    with pytest.raises(ValueError, match=r"path.*not a directory"):
        CheckpointFile(tmp_path)
    with pytest.raises(ValueError, match="timeout"):
        CheckpointFile(tmp_path / "c.db", timeout=float("nan"))
    checkpoints = CheckpointFile(tmp_path / "c.db", timeout=0.05)
    holder = sqlite3.connect(tmp_path / "c.db", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreError, match=r"CheckpointFile\.delete: the database .*c\.db' is locked"):
            checkpoints.delete("live")
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_set_of_points_is_refused() -> None:
    """A set's order is its hashes': with lateness 0 most of its points would be rejected as late."""
    live = LiveDetector("zscore")
    with pytest.raises(TypeError, match=r"points must be an iterable of LivePoint \(an ordered sequence"):
        live.ingest(set(points(50)))
    assert live.stats.received == 0


def test_a_cursor_that_would_read_back_otherwise_is_refused(tmp_path: Path) -> None:
    """{0: 1041} reads back from JSON as {'0': 1041}, a tuple as a list: a driver would miss its offsets."""
    live = LiveDetector("zscore", checkpoints=str(tmp_path / "c.db"))
    for cursor, why in (({0: 1041}, "dict key 0 reads back as the string"), (("seg-7", 4096), "tuple")):
        with pytest.raises(TypeError, match=why):
            live.ingest(points(5), cursor=cursor)
        with pytest.raises(TypeError, match=why):
            live.ingest(points(5), cursor={"partitions": [cursor]})
    assert live.stats.received == 0
    live.ingest(points(5), cursor={"0": 1041, "files": [["seg-7", 4096]]})
    live.checkpoint()
    again = LiveDetector("zscore", checkpoints=str(tmp_path / "c.db"))
    assert again.cursor == {"0": 1041, "files": [["seg-7", 4096]]}


class _FailsOnce(ZScoreEngine):
    """zscore, except that its stream raises on a value of exactly -1 (a point validation let through)."""

    def stream(self, tenant_id: str, cluster_id: str, node_id: str, metric_name: str) -> Any:
        inner = super().stream(tenant_id, cluster_id, node_id, metric_name)

        class Stream:
            pending_points = property(lambda self: inner.pending_points)

            def update(self, chunk: MetricSeries) -> list[AnomalyResult]:
                if -1.0 in chunk.values:
                    raise OverflowError("date value out of range")
                return inner.update(chunk)

            def export_state(self) -> Any:
                return inner.export_state()

        return Stream()


def test_an_engine_failure_on_one_series_is_recorded_and_the_others_go_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The failing series restarts its stream and names itself; the batch's other series are scored.

    (The failing points were left in the reorder buffer and fed again by every later batch, which
    raised again and never reached the series after it.)
    """
    other = ("acme", "c-1", "n-2", "cpu")
    live = LiveDetector(_FailsOnce())
    bad = points(30)
    bad[20] = bad[20]._replace(value=-1.0)
    with caplog.at_level("WARNING", logger="backend.analytics.live._detector"):
        first = live.ingest([*bad, *points(30, key=other)])
    assert {r.node_id for r in first} == {"n-2"}  # (n-1's 30 points went to the failed chunk)
    [failure] = live.engine_failures
    assert failure.key == KEY and failure.points == 30 and "OverflowError" in failure.error
    assert live.stats.engine_errors == 30 and "acme/c-1/n-1/cpu" in caplog.text
    later = live.ingest([*points(60, key=KEY)[30:], *points(60, key=other)[30:]])
    assert {r.node_id for r in later} == {"n-1", "n-2"} and live.stats.engine_errors == 30


def test_a_batch_interrupted_part_way_is_never_checkpointed_nor_built_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A KeyboardInterrupt (or a signal handler's SystemExit) while the series take a batch: the
    detector then refuses ingest, flush and checkpoint, and a restart resumes from the last checkpoint."""
    path = str(tmp_path / "c.db")
    live = LiveDetector("zscore", checkpoints=path, checkpoint_every_points=None)
    live.ingest(points(100), cursor=100)
    live.checkpoint()
    calls = 0
    real = LiveDetector._take

    def interrupted(self: LiveDetector, key: Any, items: Any) -> list[AnomalyResult]:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise KeyboardInterrupt
        return real(self, key, items)

    monkeypatch.setattr(LiveDetector, "_take", interrupted)
    batch = [*points(200)[100:], *points(200, key=("acme", "c-1", "n-2", "cpu"))[100:]]
    with pytest.raises(KeyboardInterrupt):
        live.ingest(batch, cursor=200)
    monkeypatch.undo()
    for call in (live.checkpoint, live.flush, lambda: live.ingest([])):
        with pytest.raises(RuntimeError, match="interrupted part-way through its batch"):
            call()
    again = LiveDetector("zscore", checkpoints=path)
    assert again.cursor == 100 and again.stats.received == 100


def test_two_running_detectors_of_one_name_on_one_file_are_refused(tmp_path: Path) -> None:
    """The second to checkpoint under a name it did not load refuses: each would resume the other's cursor."""
    path = str(tmp_path / "c.db")
    a = LiveDetector("zscore", checkpoints=path, checkpoint_every_points=None)
    b = LiveDetector("zscore", checkpoints=path, checkpoint_every_points=None)
    a.ingest(points(50), cursor=50)
    a.checkpoint()
    b.ingest(points(50, key=("beta", "c", "n", "cpu")), cursor=7)
    with pytest.raises(ValueError, match="two running detectors share this name"):
        b.checkpoint()
    a.ingest(points(80)[50:], cursor=80)
    a.checkpoint()  # (its own row: saved again)
    restarted = LiveDetector("zscore", checkpoints=path)
    assert restarted.cursor == 80 and restarted.stats.series == 1
    restarted.checkpoint()  # a restart resumes the row it loaded


def test_a_series_that_is_gone_can_be_forgotten_and_its_row_leaves_the_checkpoint(tmp_path: Path) -> None:
    """forget() releases the held points, drops the stream, and the next checkpoint deletes its row:
    memory and checkpoints no longer grow with every pod ever replaced."""
    path = str(tmp_path / "c.db")
    live = LiveDetector("zscore", checkpoints=path, lateness=timedelta(minutes=5))
    gone, kept = ("acme", "c-1", "pod-1", "cpu"), ("acme", "c-1", "pod-2", "cpu")
    live.ingest([*points(200, key=gone), *points(400, key=kept)])
    assert live.idle_series(T0 + timedelta(minutes=300)) == [SeriesKey(*gone)]
    held = live.stats.held
    released = live.forget(gone)
    assert live.stats.held < held and live.stats.series == 1
    assert [r.window_end for r in released] == [
        r.window_end for r in ZScoreEngine().detect(as_series(points(200, key=gone)))
    ][-len(released) :]
    live.checkpoint()
    again = LiveDetector("zscore", checkpoints=path, lateness=timedelta(minutes=5))
    assert again.stats.series == 1 and again.idle_series(T0 + timedelta(days=1)) == [SeriesKey(*kept)]
    with pytest.raises(KeyError, match="has no series"):
        again.forget(gone)
    assert again.ingest(points(10, key=gone)) == [] and again.stats.series == 2  # a fresh stream


def test_rejected_points_name_their_series(caplog: pytest.LogCaptureFixture) -> None:
    """A point from a clock a year ahead: the later points are late; the log and rejections say whose."""
    live = LiveDetector("zscore")
    pts = points(100)
    ahead = pts[50]._replace(timestamp=pts[50].timestamp + timedelta(days=365))
    with caplog.at_level("WARNING", logger="backend.analytics.live._detector"):
        live.ingest([*pts[:50], ahead, *pts[51:]])
    assert live.stats.rejected["late"] == 49
    assert [r.reason for r in live.rejections] == ["late"] * 49
    first = live.rejections[0]
    assert first.key == SeriesKey(*KEY) and first.timestamp == pts[51].timestamp
    assert first.floor == ahead.timestamp
    assert caplog.text.count("rejected a late point of acme/c-1/n-1/cpu") == 1  # once per series


def test_decimal_values_are_taken_as_a_series_takes_them() -> None:
    """A Decimal (a NUMERIC column) is a number: the batch is not refused for it."""
    from decimal import Decimal

    live = LiveDetector("zscore")
    live.ingest([(*p[:5], Decimal(str(p.value))) for p in points(30)])
    assert live.stats.accepted == 30
    live.ingest([(*points(32)[30][:5], Decimal("NaN"))])
    assert live.stats.rejected["not_finite"] == 1
    with pytest.raises(ValueError, match=r"points\[0\].value must be a real number within a float's range"):
        live.ingest([(*points(33)[32][:5], Decimal("1e400"))])


def test_checkpoint_save_compares_the_row_it_expects_and_refuses_a_malformed_one(tmp_path: Path) -> None:
    from backend.analytics.live import UNCHECKED
    from backend.analytics.live._checkpoint import CHECKPOINT_VERSION, DetectorRow

    file = CheckpointFile(tmp_path / "c.db")
    row = DetectorRow(CHECKPOINT_VERSION, "zscore", {}, 7, {"checkpoints": 1}, 1_000)
    assert file.save("d", row, [], expect=None) == 0  # no row yet, as expected
    with pytest.raises(ValueError, match=r"another writer .* is now \(1000, 1\), expected None"):
        file.save("d", row, [], expect=None)
    file.save("d", row, [], expect=(1_000, 1))
    file.save("d", row, [])  # UNCHECKED, the default
    file.save("d", row, [], expect=UNCHECKED)
    for bad in (True, False, (1_000,), (1_000, "1"), (True, 1), [1_000, 1]):
        with pytest.raises(TypeError, match=r"expect must be \(saved_at_us, checkpoints\)"):
            file.save("d", row, [], expect=bad)  # type: ignore[arg-type]
