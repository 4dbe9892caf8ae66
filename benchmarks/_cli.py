"""Command-line helpers shared by the benchmark scripts (run as ``python benchmarks/bench_*.py``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any


def parse_value(raw: str) -> Any:
    """JSON when it parses (3, 0.5, true, "x"), else the string itself."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def parse_config(pairs: Sequence[str]) -> dict[str, Any]:
    """``key=value`` pairs (``--config``); values parsed by :func:`parse_value`."""
    config: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--config expects key=value, got {pair!r}")
        config[key] = parse_value(raw)
    return config


def parse_seeds(text: str) -> list[int]:
    """``"5000-5004"``, ``"0,3,5"`` or a mix (``"0-2,7"``): the seeds, in order."""
    out: list[int] = []
    for part in text.split(","):
        if "-" in part:
            a, b = part.split("-")
            out.extend(range(int(a), int(b) + 1))
        else:
            out.append(int(part))
    return out
