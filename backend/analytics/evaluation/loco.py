"""Leave-one-group-out NAB scoring: every group scored with choices made without it.

NAB optimises each profile's threshold on the very files it then scores, and
a detector's settings are usually chosen on those files too: the figure is
in-sample. :func:`leave_one_group_out` removes both choices from the data
scored. Given several *candidates* (e.g. engine configurations), each with one
score per original row of every file, and a grouping of the files (NAB's
categories), for each group ``g`` and each profile it:

1. takes the files outside ``g``;
2. for every candidate, optimises the profile's threshold over those files
   (:func:`.sweep.optimize_threshold`, NAB's rule) and notes the raw score;
3. keeps the candidate with the highest raw score there (equivalently the
   highest normalised score: null and perfect scores do not depend on the
   candidate); ties go to the candidate listed first;
4. scores the files of ``g`` with that candidate's scores at that threshold
   (:func:`.nab.score_file`).

So nothing that decides how ``g`` is scored ever reads ``g``'s scores or
labels. The result holds every file scored by its group's choice;
:meth:`LocoResult.total` sums their raw, null and perfect scores over all
files and normalises the sum NAB style,
``100 * (S - S_null) / (S_perfect - S_null)``, exactly as a corpus score is
normalised (:class:`.sweep.GroupScore`). With one candidate this is the
held-out-threshold figure of a fixed configuration.

>>> from backend.analytics.evaluation import NABFileLabels
>>> a = NABFileLabels("a/1.csv", 10, 1, ((5, 6),))
>>> b = NABFileLabels("b/1.csv", 10, 1, ((2, 3),))
>>> good = [(a, [0.0] * 5 + [0.9] + [0.0] * 4), (b, [0.0] * 2 + [0.9] + [0.0] * 7)]
>>> bad = [(a, [0.9] + [0.0] * 9), (b, [0.9] * 10)]
>>> result = leave_one_group_out({"good": good, "bad": bad}, lambda name: name.split("/")[0])
>>> [(c.group, c.candidate) for c in result.choices if c.profile == "standard"]
[('a', 'good'), ('b', 'good')]
>>> round(result.total("standard").normalised, 2)
100.0
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from .._validate import check_id
from .nab import NAB_PROFILES, CostProfile, FileScore, NABFileLabels, score_file
from .sweep import GroupScore, _group, _Prepared, normalised_score

__all__ = ["LocoChoice", "LocoResult", "leave_one_group_out"]

ScoredFiles = Sequence[tuple[NABFileLabels, Sequence[float]]]


@dataclass(frozen=True, slots=True)
class LocoChoice:
    """What was chosen for one held-out group under one profile, on the other groups only.

    ``train_normalised`` is the chosen candidate's normalised score over the
    other groups' files at ``threshold`` (``None`` if they hold no window);
    ``train_scores`` the same for every candidate, in the candidates' order.
    """

    group: str
    profile: str
    candidate: str
    threshold: float
    train_normalised: float | None
    train_scores: tuple[tuple[str, float | None], ...]


@dataclass(frozen=True, slots=True)
class LocoResult:
    """Every file scored by the choice made without its group (see the module docstring)."""

    groups: tuple[str, ...]
    choices: tuple[LocoChoice, ...]
    files: Mapping[str, tuple[FileScore, ...]]  # profile -> every file, in the input order
    group_of: Mapping[str, str]  # file name -> group

    def choice(self, group: str, profile: str) -> LocoChoice:
        """The choice made for ``group`` (held out) under ``profile``."""
        for c in self.choices:
            if c.group == group and c.profile == profile:
                return c
        raise KeyError(f"LocoResult.choice: no choice for group {group!r} and profile {profile!r}")

    def total(self, profile: str) -> GroupScore:
        """All files, each scored by its group's held-out choice; normalise with ``.normalised``."""
        return _group("total", self.files[profile])

    def by_group(self, profile: str) -> dict[str, GroupScore]:
        """Each group's held-out result under ``profile``, sorted by group name."""
        files = self.files[profile]
        return {g: _group(g, [f for f in files if self.group_of[f.name] == g]) for g in self.groups}


def _null_perfect(items: ScoredFiles, profile: CostProfile) -> tuple[float, float]:
    null = -profile.fn_weight * sum(labels.scored_windows for labels, _ in items)
    perfect = profile.tp_weight * sum(len(labels.windows) for labels, _ in items)
    return null, perfect


def _first_difference(first: Sequence[str], other: Sequence[str]) -> str:
    """Where ``other`` first differs from ``first`` (which it does not equal), in words."""
    for i, (a, b) in enumerate(zip(first, other, strict=False)):
        if a != b:
            return f"file [{i}] is {b!r} where the first candidate has {a!r}"
    if len(other) > len(first):
        return f"file [{len(first)}] {other[len(first)]!r} is extra"
    return f"file [{len(other)}] {first[len(other)]!r} of the first candidate is missing"


def _check_candidates(candidates: Mapping[str, ScoredFiles]) -> list[str]:
    """The files' names, the same (and in the same order) for every candidate."""
    owner = "leave_one_group_out"
    if not candidates:
        raise ValueError(f"{owner}: candidates must hold at least one candidate, got none")
    names: list[str] | None = None
    for key, items in candidates.items():
        mine = []
        for k, pair in enumerate(items):
            labels = pair[0]
            if not isinstance(labels, NABFileLabels):
                raise TypeError(
                    f"{owner}: candidates[{key!r}][{k}] must pair NABFileLabels with scores, "
                    f"got {type(labels).__name__}"
                )
            mine.append(labels.name)
        if names is None:
            names = mine
        elif mine != names:
            raise ValueError(
                f"{owner}: candidates[{key!r}] must score the same files in the same order as the first "
                f"candidate ({len(names)} files), got {len(mine)} files: {_first_difference(names, mine)}"
            )
    if not names:
        raise ValueError(f"{owner}: the candidates score no file")
    if len(set(names)) != len(names):
        raise ValueError(f"{owner}: file names must be unique, got duplicates")
    return names


def leave_one_group_out(
    candidates: Mapping[str, ScoredFiles],
    group_of: Callable[[str], str],
    *,
    profiles: Mapping[str, CostProfile] = NAB_PROFILES,
) -> LocoResult:
    """Choose candidate and threshold per (group, profile) on the other groups; score the group.

    ``candidates`` maps a name to ``(labels, scores)`` pairs, one per file, the
    same files in the same order for every candidate (scores: one finite value
    per original row). ``group_of(file name)`` gives the file's group, a
    non-empty str (anything else raises naming the file). Needs at least two
    groups. See the module docstring for the rule.
    """
    names = _check_candidates(candidates)
    owner = "leave_one_group_out"
    group_by_name = {name: check_id(owner, f"group_of({name!r})", group_of(name)) for name in names}
    groups = tuple(sorted(set(group_by_name.values())))
    if len(groups) < 2:
        raise ValueError(f"leave_one_group_out: needs at least two groups, got {list(groups)!r}")
    keys = list(candidates)
    prepared = {key: _Prepared(candidates[key]) for key in keys}  # sorted once per candidate
    choices: list[LocoChoice] = []
    scored: dict[str, dict[str, FileScore]] = {p: {} for p in profiles}
    for held in groups:
        held_idx = [i for i, n in enumerate(names) if group_by_name[n] == held]
        skip = frozenset(held_idx)
        some = candidates[keys[0]]
        train_items = [some[i] for i in range(len(names)) if i not in skip]
        for pname, profile in profiles.items():
            null, perfect = _null_perfect(train_items, profile)

            def norm(raw: float, null: float = null, perfect: float = perfect) -> float | None:
                return None if perfect == null else normalised_score(raw, null, perfect)

            sweeps = {key: prepared[key].sweep(profile, keep_curve=False, skip=skip)[:2] for key in keys}
            best = max(keys, key=lambda k: (sweeps[k][1], -keys.index(k)))
            threshold, raw = sweeps[best]
            choices.append(
                LocoChoice(
                    group=held,
                    profile=pname,
                    candidate=best,
                    threshold=threshold,
                    train_normalised=norm(raw),
                    train_scores=tuple((k, norm(sweeps[k][1])) for k in keys),
                )
            )
            chosen = candidates[best]
            for i in held_idx:
                labels, scores = chosen[i]
                scored[pname][labels.name] = score_file(labels, scores, threshold, profile)
    files = {p: tuple(scored[p][n] for n in names) for p in profiles}
    return LocoResult(groups, tuple(choices), files, group_by_name)
