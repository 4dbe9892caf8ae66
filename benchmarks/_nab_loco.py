"""Support for ``bench_nab.py --loco``: candidates, the per-file score cache, published tables.

- Candidates: the engine's defaults (with the base ``--config``), a cartesian
  grid (``--grid key=v1,v2,...``, repeated) and named presets
  (``--preset NAME:key=v,key=v``); the key ``engine`` switches the engine.
- Cache: per (engine, configuration) the per-row scores of every file, on disk
  under ``--cache-dir`` (default ``.cache/nab-scores``, gitignored). The key
  hashes the engine name, its configuration, the window-to-point rule, the
  text of every ``.py`` file under ``backend/analytics`` and of the engine's
  own module, and the corpus files' bytes: any change to the code or data
  makes a new entry (old ones are never read again; delete the folder to
  reclaim the space).
- Published tables: NAB's published result files scored per category, with
  the threshold optimised over the 41 files (as ANCHORS.md) and with the
  threshold chosen leave-one-category-out; written to a small JSON
  (``benchmarks/nab_published.json``) that holds our derived numbers only.
"""

from __future__ import annotations

import csv
import hashlib
import inspect
import itertools
import json
import re
import time
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _cli import parse_value

from backend.analytics import EngineRegistry
from backend.analytics.evaluation import (
    NABCorpus,
    NABFileLabels,
    evaluate_engine,
    leave_one_group_out,
    score_corpus,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
PROFILE_ORDER = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")
Items = list[tuple[NABFileLabels, Sequence[float]]]


def category(name: str) -> str:
    """NAB's category of ``category/file.csv``."""
    return name.split("/", 1)[0]


@dataclass(frozen=True)
class Candidate:
    """One configuration to try: a name, an engine and its keyword arguments."""

    name: str
    engine: str
    config: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        return f"{self.engine} {json.dumps(self.config, sort_keys=True)}"


def _split_engine(config: dict[str, Any], default_engine: str) -> tuple[str, dict[str, Any]]:
    config = dict(config)
    engine = config.pop("engine", default_engine)
    return str(engine), config


def build_candidates(
    engine: str, base: dict[str, Any], grids: Sequence[str], presets: Sequence[str]
) -> list[Candidate]:
    """``defaults`` first, then the grid's cartesian product, then the presets; duplicates dropped."""
    out = [Candidate("defaults", *_split_engine(base, engine))]
    axes: list[tuple[str, list[Any]]] = []
    for text in grids:
        key, sep, values = text.partition("=")
        if not sep or not key or not values:
            raise SystemExit(f"--grid expects key=v1,v2,..., got {text!r}")
        axes.append((key, [parse_value(v) for v in values.split(",")]))
    for combo in itertools.product(*(values for _, values in axes)) if axes else ():
        config = {**base, **dict(zip((k for k, _ in axes), combo, strict=True))}
        label = ",".join(f"{k}={v}" for (k, _), v in zip(axes, combo, strict=True))
        out.append(Candidate(f"grid:{label}", *_split_engine(config, engine)))
    for text in presets:
        name, sep, body = text.partition(":")
        if not sep or not name:
            raise SystemExit(f"--preset expects NAME:key=v,key=v, got {text!r}")
        config = dict(base)
        for pair in filter(None, body.split(",")):
            key, eq, raw = pair.partition("=")
            if not eq or not key:
                raise SystemExit(f"--preset {name}: expected key=value, got {pair!r}")
            config[key] = parse_value(raw)
        out.append(Candidate(f"preset:{name}", *_split_engine(config, engine)))
    unique: list[Candidate] = []
    seen: set[str] = set()
    for c in out:
        if c.describe() not in seen:
            seen.add(c.describe())
            unique.append(c)
    return unique


# -- the per-file score cache ----------------------------------------------------------------------


def _hash_files(paths: Sequence[Path], h: Any) -> None:
    for path in sorted(paths):
        h.update(str(path.relative_to(path.anchor)).encode())
        h.update(path.read_bytes())


def code_hash(engine_class: type) -> str:
    """Hash of every ``.py`` file under ``backend/analytics`` and of the engine's module."""
    h = hashlib.sha256()
    files = list((REPO_ROOT / "backend" / "analytics").rglob("*.py"))
    source = inspect.getsourcefile(engine_class)
    if source is not None and Path(source).resolve() not in {p.resolve() for p in files}:
        files.append(Path(source).resolve())
    _hash_files(files, h)
    return h.hexdigest()


def corpus_hash(data_root: Path, corpus: NABCorpus) -> str:
    """Hash of the corpus' data and label files (bytes) and of the file list."""
    h = hashlib.sha256()
    for f in corpus:
        h.update(f.name.encode())
        h.update((data_root / "data" / f.name).read_bytes())
    _hash_files(sorted((data_root / "labels").glob("*.json")), h)
    return h.hexdigest()


class ScoreCache:
    """Per-row scores of a whole corpus per (engine, configuration), on disk."""

    def __init__(self, root: Path | None, data_root: Path, corpus: NABCorpus, between: str) -> None:
        self.root = root
        self.corpus = corpus
        self.between = between
        self._corpus_hash = corpus_hash(data_root, corpus) if root is not None else ""
        self._code: dict[str, str] = {}

    def key(self, candidate: Candidate, registry: EngineRegistry) -> str:
        if candidate.engine not in self._code:
            self._code[candidate.engine] = code_hash(registry.get(candidate.engine))
        blob = json.dumps(
            {
                "engine": candidate.engine,
                "config": candidate.config,
                "between": self.between,
                "code": self._code[candidate.engine],
                "corpus": self._corpus_hash,
            },
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:24]

    def _paths(self, candidate: Candidate, key: str) -> tuple[Path, Path]:
        assert self.root is not None
        folder = self.root / candidate.engine
        return folder / f"{key}.json", folder / f"{key}.bin"

    def load(self, candidate: Candidate, key: str) -> Items | None:
        if self.root is None:
            return None
        meta_path, bin_path = self._paths(candidate, key)
        if not (meta_path.exists() and bin_path.exists()):
            return None
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        values = array("d")
        values.frombytes(bin_path.read_bytes())
        items: Items = []
        offset = 0
        for f, (name, rows) in zip(self.corpus, meta["files"], strict=True):
            if name != f.name or rows != f.labels.n_rows:
                return None
            items.append((f.labels, values[offset : offset + rows]))
            offset += rows
        return items if offset == len(values) else None

    def save(self, candidate: Candidate, key: str, items: Items, seconds: float) -> None:
        if self.root is None:
            return
        meta_path, bin_path = self._paths(candidate, key)
        meta_path.parent.mkdir(parents=True, exist_ok=True)
        values = array("d")
        for _, scores in items:
            values.extend(scores)
        bin_path.write_bytes(values.tobytes())
        meta = {
            "engine": candidate.engine,
            "config": candidate.config,
            "between": self.between,
            "detect_seconds": seconds,
            "made": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "files": [[labels.name, labels.n_rows] for labels, _ in items],
        }
        meta_path.write_text(json.dumps(meta, indent=1), encoding="utf-8")


def candidate_items(
    candidate: Candidate, registry: EngineRegistry, cache: ScoreCache
) -> tuple[Items, float | None]:
    """Per-row scores of every file for ``candidate`` (from the cache, else by running the engine).

    Returns the items and the seconds spent in ``detect`` (``None`` when cached).
    """
    key = cache.key(candidate, registry)
    cached = cache.load(candidate, key)
    if cached is not None:
        return cached, None
    engine = registry.create(candidate.engine, **candidate.config)
    run = evaluate_engine(cache.corpus, engine, between=cache.between, profiles={})
    items: Items = [(labels, scores) for labels, scores in run.items]
    cache.save(candidate, key, items, run.detect_seconds)
    return items, run.detect_seconds


# -- published detectors ---------------------------------------------------------------------------


def published_scores(corpus: NABCorpus, results_dir: Path, detector: str) -> Items:
    """Read NAB's own result files for ``detector`` (one anomaly_score per original row)."""
    items: Items = []
    for f in corpus:
        cat, file_name = f.name.split("/", 1)
        path = results_dir / detector / cat / f"{detector}_{file_name}"
        with open(path, newline="", encoding="utf-8") as handle:
            scores = [float(row["anomaly_score"]) for row in csv.DictReader(handle)]
        items.append((f.labels, scores))
    return items


def _group_dict(g: Any) -> dict[str, Any]:
    return {
        "normalised": g.normalised,
        "raw": g.score,
        "found": g.windows_detected,
        "missed": g.windows_missed,
        "fp": g.fp,
    }


def in_sample_table(items: Items) -> dict[str, Any]:
    """Per profile: the 41-file threshold, the total and every category (NAB's usual figure)."""
    results = score_corpus(items)
    out: dict[str, Any] = {}
    for p in PROFILE_ORDER:
        r = results[p]
        out[p] = {
            "threshold": r.threshold,
            "total": _group_dict(r.total),
            "categories": {c: _group_dict(g) for c, g in r.by_group(category).items()},
        }
    return out


def loco_table(candidates: dict[str, Items]) -> tuple[dict[str, Any], Any]:
    """Per profile: held-out total and categories, and the choices; plus the raw LocoResult."""
    result = leave_one_group_out(candidates, category)
    out: dict[str, Any] = {}
    for p in PROFILE_ORDER:
        out[p] = {
            "total": _group_dict(result.total(p)),
            "categories": {c: _group_dict(g) for c, g in result.by_group(p).items()},
            "choices": {
                g: {
                    "candidate": result.choice(g, p).candidate,
                    "threshold": result.choice(g, p).threshold,
                    "train_normalised": result.choice(g, p).train_normalised,
                }
                for g in result.groups
            },
        }
    return out, result


def rounded(value: Any, digits: int = 4) -> Any:
    """``value`` with every float rounded to ``digits`` decimals (for a compact JSON)."""
    if isinstance(value, float):
        return round(value, digits)
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v, digits) for v in value]
    return value


def compact_json(value: Any) -> str:
    """JSON with one line per innermost object (a category's figures): small and still diffable."""
    text = json.dumps(value, indent=1, sort_keys=True)
    return re.sub(
        r"\{\n\s+([^{}\[\]]*?)\n\s*\}", lambda m: "{" + re.sub(r"\n\s+", " ", m.group(1)) + "}", text
    )


def read_anchors(path: Path) -> dict[str, tuple[float, float, float]]:
    """The published totals of ANCHORS.md: detector -> (standard, low FP, low FN)."""
    out: dict[str, tuple[float, float, float]] = {}
    row = re.compile(r"^\|\s*([A-Za-z]+)\s*\|\s*([-\d.]+)\s*\|\s*([-\d.]+)\s*\|\s*([-\d.]+)\s*\|")
    for line in path.read_text(encoding="utf-8").splitlines():
        m = row.match(line)
        if m:
            out[m.group(1)] = (float(m.group(2)), float(m.group(3)), float(m.group(4)))
    return out


def published_table(
    corpus: NABCorpus, results_dir: Path, anchors: dict[str, tuple[float, float, float]]
) -> dict[str, Any]:
    """Every published detector that has result files for all files: in-sample and LOCO tables."""
    detectors: dict[str, Any] = {}
    names = sorted(p.name for p in results_dir.iterdir() if p.is_dir())
    for det in names:
        try:
            items = published_scores(corpus, results_dir, det)
        except FileNotFoundError as exc:
            print(f"  {det}: skipped, {exc}")
            continue
        loco, _ = loco_table({det: items})
        for table in loco.values():
            table.pop("choices")
        detectors[det] = {"in_sample": in_sample_table(items), "loco_threshold": loco}
        if det in anchors:
            exact = [detectors[det]["in_sample"][p]["total"]["normalised"] for p in PROFILE_ORDER]
            ours = tuple(round(v, 2) for v in exact)
            if ours == anchors[det]:
                same = "reproduces ANCHORS.md"
            else:
                shown = ", ".join(f"{v:.6f}" for v in exact)
                same = f"differs from ANCHORS.md {anchors[det]} (unrounded: {shown})"
            detectors[det]["anchors_check"] = same
            print(f"  {det:<18} totals {ours}: {same}")
    return detectors
