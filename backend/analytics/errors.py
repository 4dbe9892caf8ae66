"""The few exception classes of ``backend.analytics``.

Hierarchy::

    Exception
    ├── KeyError
    │   ├── UnknownEngineError      registry.get()/create() with a name nobody registered
    │   └── store.SeriesNotFoundError   (in backend.analytics.store) no such series for this tenant
    └── RuntimeError
        ├── EngineLoadError         an installed plugin's entry point could not be loaded, or was
        │                           refused (its name is a built-in's or taken by an earlier one)
        ├── EngineCreateError       an engine's constructor raised something other than
        │                           ValueError/TypeError (those stay what they are, re-worded)
        └── StoreError              a store's database failed (locked past its timeout, unreadable,
                                    not a database, disk full); the sqlite3 error is its __cause__

and one warning::

    UserWarning
    └── InsufficientHistoryWarning   engine.detect() on a series too short for the engine's
                                     warm-up: every window scored 0, none could be anomalous

Bad input everywhere else raises the built-in ``ValueError`` (bad value) or
``TypeError`` (wrong type), with a message that names the object, the field (and
index for sequences), what was expected and what was given.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = [
    "EngineCreateError",
    "EngineLoadError",
    "InsufficientHistoryWarning",
    "StoreError",
    "UnknownEngineError",
    "UnscoredPointsWarning",
]


class UnknownEngineError(KeyError):
    """No engine is registered under the requested name.

    Its message lists the known names. ``__str__`` is overridden, as
    :class:`importlib.metadata.PackageNotFoundError` does, so the message is not
    shown wrapped in quotes.
    """

    def __init__(self, name: str, known: Iterable[str]) -> None:
        self.name = name
        self.known: tuple[str, ...] = tuple(sorted(known))
        super().__init__(name)

    def __str__(self) -> str:
        known = ", ".join(self.known) if self.known else "(none)"
        return f"unknown engine {self.name!r}; known engines: {known}"

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled with its own arguments: a worker process's error reaches the caller whole.
        return (type(self), (self.name, self.known))


def _cause_text(cause: BaseException | str) -> str:
    return cause if isinstance(cause, str) else f"{type(cause).__name__}: {cause}"


class EngineLoadError(RuntimeError):
    """An engine published through an entry point could not be loaded.

    The message names the engine, the entry point (``name = module:attr``), the
    distribution that ships it and the cause; the original exception is chained
    as ``__cause__``.
    """

    def __init__(
        self, name: str, entry_point: str, distribution: str, cause: BaseException | str
    ) -> None:
        self.name = name
        self.entry_point = entry_point
        self.distribution = distribution
        self.cause_text = _cause_text(cause)
        super().__init__(
            f"engine {name!r} (entry point {entry_point}, distribution {distribution}) "
            f"could not be loaded: {self.cause_text}"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # The cause travels as its text (``cause_text``): a worker process's error reaches the caller.
        return (type(self), (self.name, self.entry_point, self.distribution, self.cause_text))


class EngineCreateError(RuntimeError):
    """An engine's constructor raised an unexpected error inside ``EngineRegistry.create``.

    The message names the engine and where it comes from (``built-in``, or the
    entry point and distribution of a plugin) and the cause; the original
    exception is chained as ``__cause__``. A ``ValueError`` or ``TypeError``
    from the constructor (a bad setting) is re-raised as a ``ValueError`` or
    ``TypeError`` with the same prefix instead.
    """

    def __init__(self, name: str, origin: str, cause: BaseException | str) -> None:
        self.name = name
        self.origin = origin
        self.cause_text = _cause_text(cause)
        super().__init__(f"engine {name!r} ({origin}) could not be created: {self.cause_text}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.name, self.origin, self.cause_text))


class StoreError(RuntimeError):
    """A store's database could not be opened, read or written.

    Raised for the database's own failures, never for bad arguments (those are
    ``ValueError``/``TypeError``): another connection held the write lock longer
    than the store's ``timeout``, the file is not a database or is corrupt, the
    disk is full. The message names the store, the call and the file; the
    original ``sqlite3`` error is chained as ``__cause__``. A write that raises
    it has changed nothing (its transaction was rolled back), so it may be
    retried.
    """


class InsufficientHistoryWarning(UserWarning):
    """``detect`` scored a series shorter than the history its engine needs before it can alarm.

    Every window of such a series scores 0 and is NORMAL: not because nothing is
    wrong, but because the engine was still warming up (see the engine's
    ``min_history_points``). Filter it like any warning
    (``warnings.simplefilter("ignore", InsufficientHistoryWarning)``) when short
    series are expected.
    """


class UnscoredPointsWarning(UserWarning):
    """An engine was built with ``stride_points`` greater than ``window_size_points``.

    Windows then leave ``stride_points - window_size_points`` points between
    them that no window holds: an anomaly there is never reported. Raised once,
    when the engine is built; use a stride no longer than the window to judge
    every point.
    """
