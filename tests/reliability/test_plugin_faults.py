"""Plugin fault injection: many fake distributions, each broken in its own way; the registry survives.

Each round writes a random mix of fake distributions (see :mod:`tests.fakedist`)
into a fresh directory on ``sys.path``: working engines, and plugins that raise
at import (``RuntimeError``, ``ImportError``, ``SyntaxError``, ``MemoryError``,
``RecursionError``, a ``SystemExit`` from ``sys.exit``), shadow a built-in
engine's name, take a name another distribution already took, are not engines
(a function, an instance, a plain class, an abstract engine, an engine whose
``name`` differs from its entry point's, one whose ``causal`` is not a bool),
name a missing module or attribute, or whose constructor or ``detect`` raises.

After ``EngineRegistry.default()`` (and ``load_entry_points()`` on an empty
registry), in every round:

* the built-in engines are the real classes, and every working plugin loads;
* ``failures()`` is exactly the set of broken plugins, and each failure names
  its entry point and distribution; asking for one raises ``EngineLoadError``;
* a plugin whose constructor raises is reported by ``create`` naming the engine
  and its distribution; ``detect_batch`` isolates a plugin whose ``detect``
  raises, and the other series complete.

Default: 3 rounds of 12 plugins; ``--long``: 40 rounds of 40.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

from backend.analytics import EngineLoadError, EngineRegistry
from backend.analytics.engine import detect_batch
from backend.analytics.engines.combined import CombinedEngine
from backend.analytics.engines.contextual import ContextualEngine
from backend.analytics.engines.novelty import NoveltyEngine
from backend.analytics.engines.zscore import ZScoreEngine
from backend.analytics.errors import EngineCreateError
from backend.analytics.testing import make_test_series
from tests import fakedist
from tests.reliability import scale

BUILT_INS = {
    "combined": CombinedEngine,
    "contextual": ContextualEngine,
    "novelty": NoveltyEngine,
    "zscore": ZScoreEngine,
}

# kind -> module source for an engine named {name} (None: the module is the working engine).
IMPORT_FAILURES = {
    "raises": "raise RuntimeError('plugin {name} is broken')\n",
    "import_error": "import fake_missing_dependency_{name}\n",
    "syntax_error": "def broken(:\n",
    "memory_error": "raise MemoryError('plugin {name} ran out')\n",
    "recursion": "def f(n):\n    return f(n + 1)\nf(0)\n",
    "sys_exit": "import sys\nsys.exit('plugin {name} quits')\n",
    "system_exit_0": "raise SystemExit(0)\n",
}
NOT_ENGINES = {
    "function": "def Engine():\n    return 1\n",
    "instance": "class _E:\n    name = '{name}'\nEngine = _E()\n",
    "plain_class": "class Engine:\n    name = '{name}'\n    causal = True\n",
    "abstract": (
        "from backend.analytics import AnomalyDetectionEngine\n"
        "class Engine(AnomalyDetectionEngine):\n    name = '{name}'\n    causal = True\n"
    ),
    "wrong_name": None,  # a working engine whose name is not its entry point's
    "causal_not_bool": None,
}
KINDS = ["good", *IMPORT_FAILURES, *NOT_ENGINES, "missing_module", "missing_attr", "shadow", "duplicate"]
KINDS += ["ctor_raises", "detect_raises"]


def plan(rng: random.Random, count: int, round_: int) -> list[tuple[str, str]]:
    """``count`` (kind, engine name) pairs, at least one good plugin and one of each shadow/duplicate."""
    kinds = ["good", "shadow", "duplicate", *rng.choices(KINDS, k=max(0, count - 3))]
    return [(kind, f"p{round_}_{i}_{kind}") for i, kind in enumerate(kinds)]


def write_round(
    root: Path, rng: random.Random, count: int, round_: int
) -> tuple[set[str], set[str], set[str]]:
    """Write the round's distributions; return (names that must load, must fail, whose create raises)."""
    good: set[str] = set()
    broken: set[str] = set()
    ctor: set[str] = set()
    for i, (kind, planned) in enumerate(plan(rng, count, round_)):
        name = planned
        module = f"fake_{name}"
        dist = f"fake-{kind.replace('_', '-')}-{round_}-{i}"
        ep = {name: f"{module}:Engine"}
        source = fakedist.engine_module(name)
        if kind in IMPORT_FAILURES:
            source = IMPORT_FAILURES[kind].format(name=name)
            broken.add(name)
        elif kind in NOT_ENGINES:
            template = NOT_ENGINES[kind]
            if kind == "wrong_name":
                source = fakedist.engine_module(name + "_other")
            elif kind == "causal_not_bool":
                source = fakedist.engine_module(name).replace(
                    "causal: ClassVar[bool] = True", "causal = 'yes'"
                )
            else:
                assert template is not None
                source = template.format(name=name)
            broken.add(name)
        elif kind == "missing_module":
            ep = {name: f"fake_no_such_module_{round_}_{i}:Engine"}
            broken.add(name)
        elif kind == "missing_attr":
            ep = {name: f"{module}:NoSuchEngine"}
            broken.add(name)
        elif kind == "shadow":
            builtin = rng.choice(sorted(BUILT_INS))
            ep = {builtin: f"{module}:Engine"}
            source = fakedist.engine_module(builtin)
            name = builtin
            broken.add(name)
        elif kind == "duplicate":
            # Two distributions publish the same name: the first by distribution name wins.
            fakedist.write_distribution(root, f"aaa-{dist}", "1.0", ep, {module: source})
            other = f"{module}_b"
            fakedist.write_distribution(
                root, f"zzz-{dist}", "1.0", {name: f"{other}:Engine"}, {other: fakedist.engine_module(name)}
            )
            good.add(name)
            broken.add(name)  # the loser is recorded under the same name
            continue
        elif kind == "ctor_raises":
            source = fakedist.engine_module(name, init="raise RuntimeError('no licence')")
            ctor.add(name)
            good.add(name)
        elif kind == "detect_raises":
            raising = "if time_series.metric_name == 'bad':\n            raise KeyError('bad')\n        "
            source = fakedist.engine_module(name).replace(
                "if len(time_series) == 0:", raising + "if len(time_series) == 0:"
            )
            good.add(name)
        else:
            good.add(name)
        fakedist.write_distribution(root, dist, "1.0", ep, {module: source})
    return good, broken, ctor


ROUNDS = scale.size(3, 40)
PLUGINS = scale.size(12, 40)


@pytest.mark.parametrize("round_", range(ROUNDS))
@pytest.mark.parametrize("builder", ["default", "load_entry_points"])
def test_registry_survives_hostile_plugins(
    round_: int, builder: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(round_)
    good, broken, ctor = write_round(tmp_path, rng, PLUGINS, round_)
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(sys.modules)
    if builder == "default":
        registry = EngineRegistry.default()
    else:
        registry = EngineRegistry()
        registry.load_entry_points()
    try:
        names = set(registry.names())
        failures = registry.failures()
        assert set(failures) == broken, (sorted(set(failures) ^ broken), failures)
        if builder == "default":
            for name, cls in BUILT_INS.items():
                assert registry.get(name) is cls
                assert registry.describe(name).distribution == "built-in"
        assert good <= names
        assert not (broken - good - set(BUILT_INS)) & names
        for name, error in failures.items():
            assert isinstance(error, EngineLoadError)
            assert f"entry point {name} = " in str(error) and "distribution " in str(error), str(error)
            if name not in good and name not in BUILT_INS:
                with pytest.raises(EngineLoadError, match="could not be loaded"):
                    registry.get(name)
        series = [make_test_series(30, seed=1)]
        for name in sorted(good):
            if name in ctor:
                with pytest.raises(EngineCreateError, match=rf"engine '{name}' \(entry point .*distribution"):
                    registry.create(name)
                continue
            engine = registry.create(name)
            report = detect_batch(engine, [*series, series[0].slice(0, 10)])
            assert report.series_ok >= 1
            if name.endswith("detect_raises"):
                bad = make_test_series(30, seed=2)
                bad_series = type(bad).from_arrays(
                    bad.tenant_id, bad.cluster_id, bad.node_id, "bad", list(bad.epoch_us), bad.values.tolist()
                )
                report = detect_batch(engine, [bad_series, *series])
                assert report.series_ok == 1 and len(report.failures) == 1
                assert "bad" in str(report.failures[0])
    finally:
        for module in set(sys.modules) - before:
            if module.startswith("fake_"):
                del sys.modules[module]
    figures = scale.FIGURES.setdefault("plugin_faults", {"registries": 0, "plugins": 0, "broken": 0})
    figures["registries"] = int(str(figures["registries"])) + 1
    figures["plugins"] = int(str(figures["plugins"])) + len(good | broken)
    figures["broken"] = int(str(figures["broken"])) + len(broken)
