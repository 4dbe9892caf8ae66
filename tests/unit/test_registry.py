"""Unit tests of EngineRegistry: built-ins, entry points, fault isolation, configuration."""

from __future__ import annotations

import logging
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from backend.analytics import (
    AnomalyDetectionEngine,
    AnomalyResult,
    EngineLoadError,
    EngineRegistry,
    MetricSeries,
    UnknownEngineError,
)
from backend.analytics.engine import detect_batch
from backend.analytics.engines import ZScoreEngine


class EchoEngine(AnomalyDetectionEngine):
    name: ClassVar[str] = "echo"
    causal: ClassVar[bool] = True

    def __init__(self, *, window_size_points: int = 1, stride_points: int = 1) -> None:
        self.window_size_points = window_size_points

    def detect(self, time_series: MetricSeries) -> list[AnomalyResult]:
        return []

    def explain(self, time_series: MetricSeries, result: AnomalyResult) -> str:
        return "nothing"


@pytest.fixture
def fake_plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Install fake distributions (dist-info + modules) on sys.path, as importlib_metadata's tests do."""
    (tmp_path / "good_plugin.py").write_text(
        textwrap.dedent("""
        from typing import ClassVar
        from backend.analytics import AnomalyDetectionEngine
        class GoodEngine(AnomalyDetectionEngine):
            name: ClassVar[str] = "good"
            causal: ClassVar[bool] = True
            def __init__(self, *, window_size_points=1, stride_points=1, level=1.0):
                self.level = level
            def detect(self, time_series):
                return []
            def explain(self, time_series, result):
                return "fine"
        NotAnEngine = 42
    """)
    )
    (tmp_path / "broken_plugin.py").write_text("import module_that_does_not_exist_xyz\n")
    dists = {
        "good_plugin-1.0": "good = good_plugin:GoodEngine\n",
        "broken_plugin-0.3": "broken = broken_plugin:Engine\n",
        "weird_plugin-2.0": "weird = good_plugin:NotAnEngine\nmisnamed = good_plugin:GoodEngine\n",
    }
    for dist, eps in dists.items():
        info = tmp_path / f"{dist}.dist-info"
        info.mkdir()
        name, version = dist.split("-")
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name.replace('_', '-')}\nVersion: {version}\n"
        )
        (info / "entry_points.txt").write_text(f"[backend.analytics.engines]\n{eps}")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for mod in ("good_plugin", "broken_plugin"):
        sys.modules.pop(mod, None)


def test_builtins_without_installation() -> None:
    """default() knows zscore without any entry point."""
    reg = EngineRegistry.default()
    assert "zscore" in reg.names()
    assert reg.get("zscore") is ZScoreEngine


def test_unknown_name_lists_known() -> None:
    """An unknown name raises a KeyError subclass listing the known names, unquoted."""
    reg = EngineRegistry()
    reg.register("echo", EchoEngine)
    with pytest.raises(KeyError) as info:
        reg.get("zscor")
    assert isinstance(info.value, UnknownEngineError)
    assert str(info.value) == "unknown engine 'zscor'; known engines: echo"


def test_plugins_load_and_broken_ones_are_isolated(fake_plugins: Path) -> None:
    """Good plugins load; broken ones are recorded with entry point, distribution and cause."""
    reg = EngineRegistry.default()
    assert "good" in reg.names() and "zscore" in reg.names()
    failures = reg.failures()
    assert set(failures) >= {"broken", "weird", "misnamed"}
    assert "good" not in failures
    msg = str(failures["broken"])
    assert "entry point broken = broken_plugin:Engine" in msg
    assert "distribution broken-plugin 0.3" in msg
    assert "ModuleNotFoundError: No module named 'module_that_does_not_exist_xyz'" in msg
    assert "expected a subclass of backend.analytics.AnomalyDetectionEngine, got 42" in str(failures["weird"])
    assert "entry-point name must equal the engine's name" in str(failures["misnamed"])


def test_asking_for_broken_engine_raises_chained(fake_plugins: Path) -> None:
    """get() of a broken plugin raises EngineLoadError chained from the original cause."""
    reg = EngineRegistry.default()
    with pytest.raises(EngineLoadError) as info:
        reg.get("broken")
    assert isinstance(info.value.__cause__, ModuleNotFoundError)
    with pytest.raises(EngineLoadError):
        reg.create("broken")


def test_create_rejects_unknown_keywords(fake_plugins: Path) -> None:
    """Unknown configuration keywords are a TypeError naming them and the accepted ones."""
    reg = EngineRegistry.default()
    assert reg.create("good", level=2.0).level == 2.0  # type: ignore[attr-defined]
    with pytest.raises(
        TypeError,
        match=(
            r"engine 'good': unknown configuration keyword\(s\) 'levl'; "
            r"accepted: level, stride_points, window_size_points"
        ),
    ):
        reg.create("good", levl=2.0)


def test_zscore_bad_config_names_argument() -> None:
    """The built-in rejects bad values naming the argument."""
    reg = EngineRegistry.default()
    with pytest.raises(ValueError, match="ZScoreEngine: window_size_points must be a positive int, got 0"):
        reg.create("zscore", window_size_points=0)
    with pytest.raises(TypeError, match="unknown configuration keyword\\(s\\) 'windowsize'"):
        reg.create("zscore", windowsize=3)


def test_register_validates() -> None:
    """register() refuses non-engines, abstract classes, name mismatches and silent replacement."""
    reg = EngineRegistry()
    with pytest.raises(TypeError, match="expected a subclass"):
        reg.register("x", int)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="is abstract"):
        reg.register("x", AnomalyDetectionEngine)  # type: ignore[type-abstract]
    with pytest.raises(TypeError, match="registered as 'other'"):
        reg.register("other", EchoEngine)
    reg.register("echo", EchoEngine)
    reg.register("echo", EchoEngine)  # same class again is fine

    class Echo2(EchoEngine):
        pass

    with pytest.raises(ValueError, match="already registered"):
        reg.register("echo", Echo2)
    reg.register("echo", Echo2, replace=True)
    assert reg.get("echo") is Echo2


def test_detect_batch_isolates_failing_series() -> None:
    """A series that makes the engine raise is reported; the others complete."""
    from datetime import datetime, timedelta, timezone

    t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)

    class Picky(EchoEngine):
        def detect(self, time_series: MetricSeries) -> list[AnomalyResult]:
            if time_series.node_id == "bad":
                raise RuntimeError("cannot handle this node")
            return [AnomalyResult(*time_series.ids, t0, t0, 0.0, "normal")]

    series = [
        MetricSeries("t", "c", node, "m", [t0 + timedelta(minutes=1)], [1.0]) for node in ("a", "bad", "b")
    ]
    report = detect_batch(Picky(), series)
    assert [r.node_id for r in report.results] == ["a", "b"]
    assert report.series_ok == 2 and not report.ok
    assert len(report.failures) == 1
    assert (
        str(report.failures[0])
        == "m on node bad (cluster c, tenant t): RuntimeError: cannot handle this node"
    )


# -- issue 14: hostile plugins; issue 15: describe() and cached discovery ----------------------------

from backend.analytics import engine as engine_module  # noqa: E402
from backend.analytics._registry import EngineInfo  # noqa: E402
from backend.analytics.engines import CombinedEngine  # noqa: E402
from backend.analytics.errors import EngineCreateError  # noqa: E402
from tests.fakedist import engine_module as fake_engine  # noqa: E402
from tests.fakedist import write_distribution  # noqa: E402

SHADOW = "class Engine:\n    name = 'zscore'\n"


@pytest.fixture
def hostile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Fake distributions that shadow built-ins, collide, exit, interrupt, sleep or fail in __init__."""
    write_distribution(
        tmp_path, "evil-shadow", "6.6", {"zscore": "evil_shadow:Engine"}, {"evil_shadow": SHADOW}
    )
    write_distribution(
        tmp_path,
        "evil-combined",
        "1.0",
        {"combined": "evil_combined:Engine"},
        {"evil_combined": fake_engine("combined")},
    )
    write_distribution(tmp_path, "aaa-dup", "1.0", {"dup": "aaa_dup:Engine"}, {"aaa_dup": fake_engine("dup")})
    write_distribution(tmp_path, "zzz-dup", "1.0", {"dup": "zzz_dup:Engine"}, {"zzz_dup": fake_engine("dup")})
    write_distribution(
        tmp_path, "exits", "0.1", {"exits": "exits_mod:Engine"}, {"exits_mod": "raise SystemExit(3)\n"}
    )
    write_distribution(
        tmp_path,
        "sleepy",
        "0.2",
        {"sleepy": "sleepy_mod:Engine"},
        {"sleepy_mod": "import time\ntime.sleep(0.2)\n" + fake_engine("sleepy")},
    )
    write_distribution(
        tmp_path,
        "ctor",
        "0.3",
        {
            "ctor_raises": "ctor_mod:Engine",
            "ctor_value": "ctor_value_mod:Engine",
            "ctor_exit": "ctor_exit_mod:Engine",
        },
        {
            "ctor_mod": fake_engine("ctor_raises", init="raise RuntimeError('no licence server')"),
            "ctor_value_mod": fake_engine("ctor_value", init="raise ValueError('bad window')"),
            "ctor_exit_mod": fake_engine("ctor_exit", init="raise SystemExit('exit in ctor')"),
        },
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


@pytest.mark.parametrize("builder", ["default", "load_entry_points"])
def test_plugin_named_like_a_builtin_is_refused_and_recorded(hostile: Path, builder: str) -> None:
    """An entry point named zscore or combined never replaces the built-in; failures() records it."""
    if builder == "default":
        reg = EngineRegistry.default()
    else:
        reg = EngineRegistry()
        reg.load_entry_points()
    assert reg.get("zscore") is ZScoreEngine
    assert reg.get("combined") is CombinedEngine
    failures = reg.failures()
    assert {"zscore", "combined"} <= set(failures)
    msg = str(failures["zscore"])
    assert "entry point zscore = evil_shadow:Engine" in msg and "distribution evil-shadow 6.6" in msg
    assert "belongs to the built-in engine backend.analytics.engines.zscore:ZScoreEngine" in msg
    assert "evil_shadow" not in sys.modules  # refused without importing it
    assert reg.describe("zscore").distribution == "built-in"


def test_second_plugin_with_a_taken_name_is_refused(hostile: Path) -> None:
    """Of two distributions publishing 'dup', the first (by distribution name) wins; the other is recorded."""
    reg = EngineRegistry.default()
    assert reg.get("dup").__module__ == "aaa_dup"
    msg = str(reg.failures()["dup"])
    assert "entry point dup = zzz_dup:Engine" in msg and "distribution zzz-dup 1.0" in msg
    assert "already taken by entry point dup = aaa_dup:Engine of aaa-dup 1.0" in msg


def test_a_broken_plugin_does_not_take_the_name_from_a_working_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name is taken by an entry point that loads: a broken one sorted first leaves it to the next."""
    sources = {"aaa_step": "import nope_\n", "mmm_step": fake_engine("step"), "zzz_step": fake_engine("step")}
    for module, source in sources.items():
        dist = module.replace("_", "-")
        write_distribution(tmp_path, dist, "1.0", {"step": f"{module}:Engine"}, {module: source})
    monkeypatch.syspath_prepend(str(tmp_path))
    EngineRegistry.refresh()
    reg = EngineRegistry.default()
    assert reg.describe("step").distribution == "aaa-step 1.0"  # (imports nothing: the first found)
    assert reg.get("step").__module__ == "mmm_step"
    assert "step" in reg.names()
    assert reg.describe("step").distribution == "mmm-step 1.0"
    assert "zzz_step" not in sys.modules  # refused without importing it
    # failures() keeps the first problem met for the name: the broken distribution's.
    msg = str(reg.failures()["step"])
    assert "entry point step = aaa_step:Engine" in msg and "No module named 'nope_'" in msg
    # Every entry point broken: the name is not available, and the error names the first.
    for module in ("mmm_step", "zzz_step"):
        (tmp_path / f"{module}.py").write_text("raise ImportError('gone')\n")
        sys.modules.pop(module, None)
    EngineRegistry.refresh()
    broken = EngineRegistry.default()
    with pytest.raises(EngineLoadError, match=r"entry point step = aaa_step:Engine"):
        broken.get("step")
    assert "step" not in broken.names()


def test_system_exit_at_plugin_import_is_isolated(hostile: Path) -> None:
    """SystemExit raised while importing a plugin is recorded; the registry and the process go on."""
    reg = EngineRegistry.default()
    with pytest.raises(EngineLoadError, match=r"entry point exits = exits_mod:Engine.*SystemExit: 3") as info:
        reg.get("exits")
    assert isinstance(info.value.__cause__, SystemExit)
    assert "exits" in reg.failures() and "exits" not in reg.names()
    assert "zscore" in reg.names()


def test_keyboard_interrupt_at_plugin_import_propagates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """KeyboardInterrupt raised while importing a plugin is not swallowed."""
    write_distribution(
        tmp_path, "ctrlc", "1.0", {"ctrlc": "ctrlc_mod:Engine"}, {"ctrlc_mod": "raise KeyboardInterrupt\n"}
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = EngineRegistry.default()
    with pytest.raises(KeyboardInterrupt):
        reg.get("ctrlc")


def test_default_imports_no_plugin(hostile: Path) -> None:
    """default(), describe(), catalogue() and create('zscore') never import plugin code (a slow one waits)."""
    reg = EngineRegistry.default()
    assert reg.describe("sleepy") == EngineInfo(
        "sleepy", "sleepy_mod:Engine", "sleepy = sleepy_mod:Engine", "sleepy 0.2"
    )
    assert "sleepy" in {info.name for info in reg.catalogue()}
    reg.create("zscore")
    assert "sleepy_mod" not in sys.modules
    assert reg.get("sleepy").__module__ == "sleepy_mod"  # imported when asked for
    assert reg.describe("sleepy").class_path == "sleepy_mod:Engine"


def test_constructor_errors_name_the_engine_and_distribution(hostile: Path) -> None:
    """An engine whose __init__ raises reaches create()'s caller wrapped, naming engine and distribution."""
    reg = EngineRegistry.default()
    with pytest.raises(EngineCreateError) as info:
        reg.create("ctor_raises")
    assert str(info.value) == (
        "engine 'ctor_raises' (entry point ctor_raises = ctor_mod:Engine, distribution ctor 0.3) "
        "could not be created: RuntimeError: no licence server"
    )
    assert isinstance(info.value.__cause__, RuntimeError)
    with pytest.raises(
        ValueError,
        match=r"engine 'ctor_value' \(entry point .*distribution ctor 0.3\) "
        r"could not be created: bad window",
    ) as bad:
        reg.create("ctor_value")
    assert isinstance(bad.value.__cause__, ValueError)
    with pytest.raises(ValueError, match=r"engine 'zscore' \(built-in\) could not be created: ZScoreEngine"):
        reg.create("zscore", window_size_points=0)


def test_system_exit_in_a_constructor_is_wrapped(hostile: Path) -> None:
    """SystemExit from a plugin's __init__ reaches create()'s caller as EngineCreateError, not as an exit."""
    with pytest.raises(EngineCreateError, match=r"'ctor_exit' .*created: SystemExit: exit in ctor"):
        EngineRegistry.default().create("ctor_exit")


def test_an_unreadable_entry_points_file_skips_only_its_distribution(
    fake_plugins: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Any distribution (a plugin or not) whose entry_points.txt does not parse is skipped, with a warning."""
    info = fake_plugins / "brk_tool-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: brk-tool\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[console_scripts]\nbrk-tool\n")  # no '= module:attr'
    EngineRegistry.refresh()
    with caplog.at_level(logging.WARNING, logger="backend.analytics._registry"):
        reg = EngineRegistry.default()
        assert {"zscore", "combined", "good"} <= set(reg.names())
        assert getattr(reg.create("good"), "level") == 1.0  # noqa: B009 - a plugin's own attribute
    skipped = [r.getMessage() for r in caplog.records if "brk-tool" in r.getMessage()]
    assert len(skipped) == 1
    assert "entry_points.txt could not be read" in skipped[0]
    assert str(info) in skipped[0]
    EngineRegistry.refresh()


def test_describe_built_in_plugin_and_registered(fake_plugins: Path) -> None:
    """describe() gives the class path, entry point and distribution, or built-in / registered in code."""
    reg = EngineRegistry.default()
    assert reg.describe("zscore") == EngineInfo(
        "zscore", "backend.analytics.engines.zscore:ZScoreEngine", None, "built-in"
    )
    assert reg.describe("good") == EngineInfo(
        "good", "good_plugin:GoodEngine", "good = good_plugin:GoodEngine", "good-plugin 1.0"
    )
    reg.register("echo", EchoEngine)
    assert reg.describe("echo") == EngineInfo("echo", f"{__name__}:EchoEngine", None, "registered in code")
    broken = reg.describe("broken")
    assert (broken.entry_point, broken.distribution) == ("broken = broken_plugin:Engine", "broken-plugin 0.3")
    with pytest.raises(UnknownEngineError, match="unknown engine 'nope'"):
        reg.describe("nope")


def test_discovery_is_cached_until_refresh(monkeypatch: pytest.MonkeyPatch) -> None:
    """default() reads the entry points once per process (per sys.path); refresh() makes it read again."""
    from importlib import metadata


    calls = []
    real = metadata.distributions

    def counting(**kwargs: Any) -> Any:
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(metadata, "distributions", counting)
    EngineRegistry.refresh()
    EngineRegistry.default()
    EngineRegistry.default()
    assert len(calls) == 1
    EngineRegistry.refresh()
    EngineRegistry.default()
    assert len(calls) == 2


def test_builtin_list_registry_and_pyproject_agree() -> None:
    """The built-in engine table, the default registry and pyproject.toml's entry points agree."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    with pyproject.open("rb") as fh:
        published = tomllib.load(fh)["project"]["entry-points"][engine_module.ENTRY_POINT_GROUP]
    assert published == engine_module._BUILTINS
    reg = EngineRegistry.default()
    for name, target in engine_module._BUILTINS.items():
        cls = reg.get(name)
        assert f"{cls.__module__}:{cls.__qualname__}" == target
        assert reg.describe(name).distribution == "built-in"


def test_a_broken_plugin_is_logged_once_per_process(
    fake_plugins: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Every registry records a broken plugin in failures(), but the warning is logged once, however
    many registries meet it (default() builds a new one on each call); refresh() lets it be said again."""
    EngineRegistry.refresh()
    with caplog.at_level("WARNING", logger="backend.analytics"):
        for _ in range(3):
            registry = EngineRegistry.default()
            registry.load_all()
            assert "broken" in registry.failures()
    said = [r.getMessage() for r in caplog.records if "'broken'" in r.getMessage()]
    assert len(said) == 1 and "could not be loaded" in said[0]
    caplog.clear()
    EngineRegistry.refresh()
    with caplog.at_level("WARNING", logger="backend.analytics"):
        EngineRegistry.default().load_all()
    assert sum("'broken'" in r.getMessage() for r in caplog.records) == 1
