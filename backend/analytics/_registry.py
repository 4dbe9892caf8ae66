"""The engine registry: built-in engines, installed plugins and engines registered in code.

:class:`EngineRegistry` (re-exported by :mod:`backend.analytics.engine` and
:mod:`backend.analytics`) maps engine names to engine classes, and
:class:`EngineInfo` says where each one comes from.

Discovery and import are two steps:

* **Discovery** reads the installed distributions' metadata for the
  entry-point group ``backend.analytics.engines``; it imports nothing. Its
  result is cached for the process, keyed by ``sys.path``, so
  :meth:`EngineRegistry.default` does not rescan on every call. After
  installing or removing a distribution in a running process, call
  :meth:`EngineRegistry.refresh` (a changed ``sys.path`` rescans by itself).
* **Import** of a plugin happens only when something needs its class: ``get``
  or ``create`` of that name, ``name in registry``, or the calls that answer
  for every engine (``names()``, ``failures()``, ``load_all()``). So
  ``EngineRegistry.default()``, ``describe(name)``, ``catalogue()`` and
  ``create("zscore")`` never run plugin code: a plugin that hangs or sleeps
  at import blocks only the caller that asks for it (there is no time
  bound; listing without importing is the answer to a slow plugin).

Isolation: every plugin import runs in its own ``try``; any exception,
``SystemExit`` included, is recorded as an
:class:`~backend.analytics.errors.EngineLoadError` (naming the entry point,
its distribution and the cause, chained as ``__cause__``) and the other
engines still load; ``KeyboardInterrupt`` propagates. An entry point whose
name is a built-in engine's, or was taken by an entry point *loaded* before
it, is refused and recorded the same way: no plugin replaces a built-in
engine. Entry points of one name from several distributions are tried in
(name, distribution) order: the first that loads takes the name (a broken
one does not), the rest are refused; :meth:`EngineRegistry.failures` keeps
the first problem met per name, and every one is logged. An engine whose constructor raises
reaches the caller of ``create`` wrapped in an error naming the engine and its
distribution, with the original as ``__cause__`` (a ``SystemExit`` from a
constructor too). Any installed distribution whose ``entry_points.txt``
cannot be parsed (a plugin or not) is skipped with a warning naming its
path; discovery goes on with the others.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import re
import sys
import threading
from dataclasses import dataclass
from importlib import import_module, metadata
from typing import Any

from ._validate import brief
from .engine import _BUILTINS, ENTRY_POINT_GROUP, AnomalyDetectionEngine
from .errors import EngineCreateError, EngineLoadError, UnknownEngineError

__all__ = ["EngineInfo", "EngineRegistry"]

logger = logging.getLogger(__name__)
# Each broken plugin is logged once per process, however many registries meet it (default() builds a
# new registry on every call); every registry still records it in failures().
_warned: set[str] = set()
_warned_lock = threading.Lock()


def _warn_once(error: Exception) -> None:
    _warn_text(str(error))


def _warn_text(text: str) -> None:
    with _warned_lock:
        if text in _warned:
            return
        _warned.add(text)
    logger.warning("%s", text)

BUILT_IN = "built-in"
REGISTERED_IN_CODE = "registered in code"


@dataclass(frozen=True, slots=True)
class EngineInfo:
    """Where a registered engine comes from, as :meth:`EngineRegistry.describe` reports it.

    ``class_path``: ``"module:QualifiedName"`` (for a plugin not imported yet,
    its entry point's value). ``entry_point``: ``"name = module:attr"`` for a
    plugin, ``None`` for a built-in engine or one registered in code.
    ``distribution``: ``"<name> <version>"`` of the distribution that
    publishes a plugin, ``"built-in"``, or ``"registered in code"``.
    """

    name: str
    class_path: str
    entry_point: str | None
    distribution: str


@dataclass(frozen=True, slots=True)
class _Found:
    """One discovered entry point (no import done)."""

    ep: metadata.EntryPoint
    info: EngineInfo


_discovery_lock = threading.Lock()
# group -> (the sys.path it was read under, its entry points sorted by (name, distribution))
_discovered: dict[str, tuple[tuple[str, ...], tuple[_Found, ...]]] = {}


def _dist_label(ep: metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "unknown distribution"
    try:
        return f"{dist.metadata['Name']} {dist.version}"
    except Exception:  # a malformed METADATA must not break the registry either
        return "unknown distribution"


def _dist_key(dist: metadata.Distribution) -> str | None:
    """The normalised project name of ``dist`` (``None`` if its metadata cannot be read)."""
    try:
        name = dist.metadata["Name"]
    except Exception:  # a malformed METADATA: the distribution is still read, on its own
        return None
    return re.sub(r"[-_.]+", "-", name).lower() if isinstance(name, str) else None


def _entry_points(group: str) -> list[metadata.EntryPoint]:
    """The entry points of ``group``, as ``importlib.metadata.entry_points(group=...)`` gives them.

    Read one distribution at a time (the first of a name on ``sys.path`` wins, as
    ``importlib.metadata`` has it): a distribution whose ``entry_points.txt``
    cannot be parsed is skipped with a warning naming it and the error, instead
    of making discovery, and with it every engine, fail.
    """
    seen: set[str] = set()
    out: list[metadata.EntryPoint] = []
    for dist in metadata.distributions():
        key = _dist_key(dist)
        if key is not None:
            if key in seen:
                continue
            seen.add(key)
        try:
            out.extend(dist.entry_points.select(group=group))
        except Exception as exc:
            where = getattr(dist, "_path", None)
            _warn_text(
                f"skipped the entry points of distribution {key or 'with unreadable metadata'}"
                f"{f' at {where}' if where is not None else ''}: its entry_points.txt could not be "
                f"read ({type(exc).__name__}: {exc}); engines from other distributions are unaffected"
            )
    return out


def _discover(group: str) -> tuple[_Found, ...]:
    """The entry points of ``group``, sorted by (name, distribution); cached per ``sys.path``."""
    key = tuple(sys.path)
    with _discovery_lock:
        cached = _discovered.get(group)
        if cached is not None and cached[0] == key:
            return cached[1]
        found = []
        for ep in _entry_points(group):
            info = EngineInfo(ep.name, ep.value, f"{ep.name} = {ep.value}", _dist_label(ep))
            found.append(_Found(ep, info))
        found.sort(key=lambda f: (f.info.name, f.info.distribution, f.info.class_path))
        result = tuple(found)
        _discovered[group] = (key, result)
        return result


def _check_engine_class(obj: object, expected_name: str) -> type[AnomalyDetectionEngine]:
    """Return ``obj`` if it is a concrete engine class named ``expected_name``; else raise TypeError."""
    if not isinstance(obj, type) or not issubclass(obj, AnomalyDetectionEngine):
        raise TypeError(
            f"expected a subclass of backend.analytics.AnomalyDetectionEngine, got {brief(obj)}"
        )
    if inspect.isabstract(obj):
        missing = ", ".join(sorted(getattr(obj, "__abstractmethods__", ())))
        raise TypeError(f"{obj.__qualname__} is abstract (missing: {missing})")
    declared = getattr(obj, "name", None)
    if declared != expected_name:
        raise TypeError(
            f"{obj.__qualname__}.name is {brief(declared)}, but it is registered as {expected_name!r}; "
            "the entry-point name must equal the engine's name"
        )
    if not isinstance(getattr(obj, "causal", None), bool):
        raise TypeError(f"{obj.__qualname__}.causal must be a bool, got {brief(obj.causal)}")
    return obj


def _load_error(info: EngineInfo, cause: BaseException) -> EngineLoadError:
    error = EngineLoadError(info.name, info.entry_point or info.class_path, info.distribution, cause)
    error.__cause__ = cause
    return error


def _accepted_keywords(cls: type) -> set[str] | None:
    """Keyword names ``cls(...)`` accepts, or ``None`` if it takes ``**kwargs``."""
    try:
        params = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):  # no introspectable signature: let the call decide
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return {
        p.name
        for p in params
        if p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    }


class EngineRegistry:
    """Engines by name: built-ins, installed plugins, and engines registered in code.

    ``EngineRegistry()`` is empty; :meth:`default` holds the built-ins and the
    installed plugins (imported when first needed, see the module docstring).
    A registry is safe to share between threads.
    """

    def __init__(self) -> None:
        self._engines: dict[str, type[AnomalyDetectionEngine]] = {}
        # Entry points found and not imported yet, by name: the first in (name, distribution) order,
        # then any other distribution's entry point of the same name, tried in turn if it fails.
        self._pending: dict[str, list[_Found]] = {}
        self._broken: dict[str, EngineLoadError] = {}
        self._info: dict[str, EngineInfo] = {}
        self._lock = threading.RLock()

    # -- building ----------------------------------------------------------------------

    @classmethod
    def default(cls) -> EngineRegistry:
        """A registry with the built-in engines and every installed plugin engine.

        Imports the built-in engines but no plugin; the entry points are
        discovered once per process (see :meth:`refresh`).
        """
        registry = cls()
        for name, target in _BUILTINS.items():
            module_name, _, attr = target.partition(":")
            registry._engines[name] = getattr(import_module(module_name), attr)
            registry._info[name] = EngineInfo(name, target, None, BUILT_IN)
        registry._add_entry_points(ENTRY_POINT_GROUP)
        return registry

    @classmethod
    def refresh(cls) -> None:
        """Forget the cached entry-point discovery (after installing or removing a plugin).

        Registries built before keep what they hold; call :meth:`default`
        again for one that sees the change.
        """
        with _discovery_lock:
            _discovered.clear()
        with _warned_lock:
            _warned.clear()
        importlib.invalidate_caches()

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> None:
        """Import every engine published under ``group`` now; failures are recorded, not raised.

        Entry points are visited sorted by (name, distribution) so the outcome
        does not depend on the order of ``sys.path``. An entry point named like
        a built-in engine (other than the built-in itself), or like an engine
        already registered or found before it, is refused and recorded in
        :meth:`failures`; the engine already registered stays.
        """
        self._add_entry_points(group)
        self.load_all()

    def _add_entry_points(self, group: str) -> None:
        with self._lock:
            for found in _discover(group):
                self._add_found(found)

    def _add_found(self, found: _Found) -> None:
        info = found.info
        name = info.name
        builtin = _BUILTINS.get(name)
        if builtin is not None and info.class_path == builtin:
            if name not in self._engines and name not in self._pending:
                # Our own distribution publishing a built-in: it is the built-in.
                self._pending[name] = [_Found(found.ep, EngineInfo(name, builtin, None, BUILT_IN))]
            return
        if builtin is not None:
            reason = f"the name {name!r} belongs to the built-in engine {builtin}; a plugin cannot replace it"
            self._fail(info, ValueError(reason))
        elif name in self._engines:
            self._fail(info, ValueError(self._taken(name)))
        elif name in self._pending:
            # Another distribution's entry point of the same name: it takes the name only if the
            # ones before it fail to load (a name is taken by an entry point that loaded).
            self._pending[name].append(found)
        else:
            self._pending[name] = [found]
            self._info[name] = info

    def _taken(self, name: str) -> str:
        taken = self._info[name]
        by = taken.distribution
        if taken.entry_point is not None:
            by = f"entry point {taken.entry_point} of {taken.distribution}"
        return f"the name {name!r} is already taken by {by} ({taken.class_path})"

    def _fail(self, info: EngineInfo, cause: BaseException) -> None:
        """Record (the first per name, in failures()) and log a refused or failed entry point."""
        error = _load_error(info, cause)
        _warn_once(error)
        self._broken.setdefault(info.name, error)

    def register(self, name: str, cls: type[AnomalyDetectionEngine], *, replace: bool = False) -> None:
        """Register ``cls`` under ``name`` (which must equal ``cls.name``).

        Raises ``TypeError`` if ``cls`` is not a concrete engine class and
        ``ValueError`` if the name is taken by another class or a discovered
        plugin (unless ``replace``).
        """
        if not isinstance(name, str):
            raise TypeError(f"EngineRegistry.register: name must be a non-empty str, got {brief(name)}")
        if not name:
            raise ValueError("EngineRegistry.register: name must be a non-empty str, got ''")
        try:
            engine_cls = _check_engine_class(cls, name)
        except TypeError as exc:
            raise TypeError(f"EngineRegistry.register({name!r}): {exc}") from None
        with self._lock:
            known = self._engines.get(name)
            taken = (known is not None and known is not engine_cls) or name in self._pending
            if taken and not replace:
                where = self._info[name].class_path if name in self._info else "?"
                raise ValueError(
                    f"EngineRegistry.register: name {name!r} is already registered for {where}; "
                    "pass replace=True to replace it"
                )
            self._engines[name] = engine_cls
            self._pending.pop(name, None)
            self._broken.pop(name, None)
            if known is not engine_cls:
                path = f"{engine_cls.__module__}:{engine_cls.__qualname__}"
                self._info[name] = EngineInfo(name, path, None, REGISTERED_IN_CODE)

    # -- importing ---------------------------------------------------------------------

    def _load(self, name: str) -> type[AnomalyDetectionEngine] | None:
        """Import the pending plugin ``name``; ``None`` (and a recorded failure) if it fails.

        Entry points of that name from several distributions are tried in turn: the first that
        loads takes the name, and those after it are refused. Each failure is logged, and the
        first problem met for the name is kept for :meth:`failures`.
        """
        with self._lock:
            candidates = self._pending.pop(name, None)
            if candidates is None:
                return self._engines.get(name)
            loaded: type[AnomalyDetectionEngine] | None = None
            for k, found in enumerate(candidates):
                if loaded is not None:
                    self._fail(found.info, ValueError(self._taken(name)))
                    continue
                try:
                    engine_cls = _check_engine_class(found.ep.load(), name)
                except KeyboardInterrupt:
                    self._pending[name] = candidates[k:]
                    raise
                except BaseException as exc:  # SystemExit too: a plugin must not end the caller
                    self._fail(found.info, exc)
                    continue
                loaded = self._engines[name] = engine_cls
                if found.info.distribution == BUILT_IN or found.info.entry_point is None:
                    self._info[name] = found.info
                else:
                    path = f"{engine_cls.__module__}:{engine_cls.__qualname__}"
                    self._info[name] = EngineInfo(name, path, found.info.entry_point, found.info.distribution)
            return loaded

    def load_all(self) -> dict[str, EngineLoadError]:
        """Import every plugin not imported yet; return :meth:`failures`."""
        with self._lock:
            for name in sorted(self._pending):
                self._load(name)
            return self.failures()

    # -- asking ------------------------------------------------------------------------

    def names(self) -> list[str]:
        """The names of the engines that can be created, sorted (imports pending plugins)."""
        with self._lock:
            self.load_all()
            return sorted(self._engines)

    def failures(self) -> dict[str, EngineLoadError]:
        """Engines found but refused or not loadable, by name (imports pending plugins first)."""
        with self._lock:
            for name in sorted(self._pending):
                self._load(name)
            return dict(sorted(self._broken.items()))

    def catalogue(self) -> list[EngineInfo]:
        """Every engine known by name, loadable or not yet imported, sorted; imports nothing."""
        with self._lock:
            return [self._info[name] for name in sorted(set(self._engines) | set(self._pending))]

    def describe(self, name: str) -> EngineInfo:
        """Where engine ``name`` comes from: class path, entry point and distribution (or built-in).

        Imports nothing. A plugin that was refused or failed to load is
        described too; a name nobody registered raises
        :class:`UnknownEngineError`.
        """
        with self._lock:
            info = self._info.get(name) if isinstance(name, str) else None
            if info is None:
                broken = self._broken.get(name) if isinstance(name, str) else None
                if broken is None:
                    raise UnknownEngineError(name, self._known())
                return EngineInfo(name, "?", broken.entry_point, broken.distribution)
            return info

    def _known(self) -> list[str]:
        return sorted(set(self._engines) | set(self._pending) | set(self._broken))

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        return name in self._engines or (name in self._pending and self._load(name) is not None)

    def get(self, name: str) -> type[AnomalyDetectionEngine]:
        """The engine class registered as ``name`` (importing its plugin if needed).

        Raises :class:`UnknownEngineError` (a ``KeyError``) listing the known
        names, or :class:`EngineLoadError` (chained from the cause) for a
        plugin that was found but refused or could not be loaded.
        """
        if isinstance(name, str):
            engine_cls = self._engines.get(name) or (self._load(name) if name in self._pending else None)
            if engine_cls is not None:
                return engine_cls
            broken = self._broken.get(name)
            if broken is not None:
                raise broken from broken.__cause__
        raise UnknownEngineError(name, self._known())

    def create(self, name: str, **config: Any) -> AnomalyDetectionEngine:
        """Build engine ``name`` with keyword configuration ``config``.

        Unknown keywords raise ``TypeError`` naming them and the accepted ones.
        An error raised by the engine's constructor is wrapped in one that names
        the engine and where it comes from, with the original as
        ``__cause__``: a ``ValueError`` or ``TypeError`` (a bad setting) stays a
        ``ValueError`` or ``TypeError``; anything else becomes an
        :class:`~backend.analytics.errors.EngineCreateError`.
        """
        engine_cls = self.get(name)
        accepted = _accepted_keywords(engine_cls)
        if accepted is not None:
            unknown = sorted(set(config) - accepted)
            if unknown:
                raise TypeError(
                    f"engine {name!r}: unknown configuration keyword(s) {', '.join(map(repr, unknown))}; "
                    f"accepted: {', '.join(sorted(accepted)) or '(none)'}"
                )
        try:
            return engine_cls(**config)
        except (ValueError, TypeError) as exc:
            kind = ValueError if isinstance(exc, ValueError) else TypeError
            raise kind(f"engine {name!r} ({self._origin(name)}) could not be created: {exc}") from exc
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # SystemExit too: a plugin's constructor must not end the caller
            raise EngineCreateError(name, self._origin(name), exc) from exc

    def _origin(self, name: str) -> str:
        info = self.describe(name)
        if info.entry_point is None:
            return info.distribution
        return f"entry point {info.entry_point}, distribution {info.distribution}"
