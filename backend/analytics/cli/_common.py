"""Helpers the command modules share: argument parsing, opening the store, choosing the engine."""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from .._iso import parse_iso
from ..store import SQLiteMetricStore

__all__ = [
    "add_store",
    "open_store",
    "parse_duration",
    "parse_pairs",
    "parse_settings",
    "parse_time",
    "pick_engine",
]

_DURATION = re.compile(r"(\d+)(ms|[smhdw])")
_UNIT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def parse_duration(text: str) -> timedelta:
    """``"30s"``, ``"5m"``, ``"1h30m"``, ``"7d"`` (or plain seconds) as a positive ``timedelta``."""
    if text.isdigit():
        seconds = float(text)
    elif _DURATION.fullmatch(text) or (_DURATION.match(text) and not _DURATION.sub("", text)):
        seconds = sum(int(n) * _UNIT[u] for n, u in _DURATION.findall(text))
    else:
        raise ValueError(f"a duration must look like 30s, 5m, 1h30m or 7d, got {text!r}")
    if seconds <= 0:
        raise ValueError(f"a duration must be positive, got {text!r}")
    return timedelta(seconds=seconds)


def parse_time(option: str, text: str) -> datetime:
    """An ISO 8601 instant with a UTC offset (``Z`` accepted), or ``now``; an error names ``option``."""
    if text == "now":
        return datetime.now(timezone.utc)
    try:
        value = parse_iso(text)
    except ValueError:
        raise ValueError(
            f"{option} expects an ISO 8601 time with a UTC offset (or 'now'), got {text!r}"
        ) from None
    if value.utcoffset() is None:
        raise ValueError(
            f"{option} expects an ISO 8601 time with a UTC offset such as Z or +02:00, got {text!r}"
        )
    return value


def parse_pairs(option: str, items: Sequence[str] | None) -> dict[str, str]:
    """``KEY=VALUE`` items of a repeatable option as a dict; a malformed item names the option."""
    out: dict[str, str] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise ValueError(f"{option} takes KEY=VALUE, got {item!r}")
        if key in out and out[key] != value:
            raise ValueError(f"{option} gives {key} twice ({key}={out[key]} and {item}); give it once")
        out[key] = value
    return out


def parse_settings(items: Sequence[str] | None) -> dict[str, Any]:
    """Engine settings from ``--set KEY=VALUE``: a JSON value (``6``, ``5.0``, ``true``) or else a string."""
    out: dict[str, Any] = {}
    for key, text in parse_pairs("--set", items).items():
        try:
            out[key] = json.loads(text)
        except ValueError:
            out[key] = text
    return out


def add_store(parser: argparse.ArgumentParser) -> None:
    """The ``--store DB`` option."""
    parser.add_argument("--store", type=Path, required=True, help="SQLite store file")


def open_store(path: Path, *, create: bool) -> SQLiteMetricStore:
    """Open the store; unless ``create``, a missing file is an error rather than a new empty store."""
    if not create and not path.exists():
        raise ValueError(f"no store file {str(path)!r}; create one with `python -m backend.analytics load`")
    return SQLiteMetricStore(path)


def pick_engine(store: SQLiteMetricStore, tenant: str, engine: str | None) -> str:
    """The engine whose results to read: ``engine``, or the tenant's only one."""
    engines = store.result_engines(tenant)
    if engine is not None:
        if engine not in engines:
            raise ValueError(
                f"tenant {tenant!r} has no results from engine {engine!r}; "
                f"it has: {', '.join(engines) or 'none'}"
            )
        return engine
    if not engines:
        raise ValueError(
            f"tenant {tenant!r} has no stored results; run `python -m backend.analytics detect` first"
        )
    if len(engines) > 1:
        raise ValueError(
            f"tenant {tenant!r} has results from several engines ({', '.join(engines)}); "
            "pick one with --engine"
        )
    return engines[0]
