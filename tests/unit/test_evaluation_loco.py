"""Unit tests of leave-one-group-out NAB scoring: no choice for a group ever reads that group."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.analytics.evaluation import (
    NAB_PROFILES,
    NABFileLabels,
    leave_one_group_out,
    normalised_score,
    optimize_threshold,
    score_file,
)

GROUPS = ("alpha", "beta", "gamma")
Items = list[tuple[NABFileLabels, Sequence[float]]]


def group_of(name: str) -> str:
    return name.split("/", maxsplit=1)[0]


def labels(name: str, rng: random.Random, n_rows: int = 80) -> NABFileLabels:
    """A file with one or two label windows after a probation of 10 rows."""
    first = rng.randrange(15, 35)
    windows = [(first, first + rng.randrange(3, 8))]
    if rng.random() < 0.5:
        second = rng.randrange(50, 70)
        windows.append((second, second + rng.randrange(3, 8)))
    return NABFileLabels(name, n_rows, 10, tuple(windows))


def corpus(seed: int, n_candidates: int = 3, files_per_group: int = 2) -> dict[str, Items]:
    """Random scores for every candidate over the same files (ties are likely: 0.1 steps)."""
    rng = random.Random(seed)
    files = [labels(f"{g}/f{k}.csv", rng) for g in GROUPS for k in range(files_per_group)]
    return {
        f"c{c}": [(f, [rng.randrange(11) / 10 for _ in range(f.n_rows)]) for f in files]
        for c in range(n_candidates)
    }


def replace_group(candidates: dict[str, Items], group: str, seed: int) -> dict[str, Items]:
    """The same candidates with every file of ``group`` given new labels and new scores."""
    rng = random.Random(seed)
    out: dict[str, Items] = {}
    new_labels: dict[str, NABFileLabels] = {}
    for key, items in candidates.items():
        out[key] = []
        for f, scores in items:
            if group_of(f.name) == group:
                new = new_labels.setdefault(f.name, labels(f.name, rng))
                out[key].append((new, [rng.random() for _ in range(new.n_rows)]))
            else:
                out[key].append((f, scores))
    return out


@settings(max_examples=40)
@given(seed=st.integers(0, 10_000), other=st.integers(0, 10_000), held=st.sampled_from(GROUPS))
def test_a_groups_choice_never_depends_on_that_groups_files(seed: int, other: int, held: str) -> None:
    """Changing every label and score of the held-out group leaves its chosen candidate and threshold."""
    before = leave_one_group_out(corpus(seed), group_of)
    after = leave_one_group_out(replace_group(corpus(seed), held, other), group_of)
    for profile in NAB_PROFILES:
        assert after.choice(held, profile) == before.choice(held, profile)


def test_the_held_out_figures_are_the_group_scored_with_its_choice() -> None:
    """Each file is scored with its group's candidate at its group's threshold; totals sum them."""
    candidates = corpus(7)
    result = leave_one_group_out(candidates, group_of)
    for profile_name, profile in NAB_PROFILES.items():
        expected = []
        for k, (f, _) in enumerate(candidates["c0"]):
            choice = result.choice(group_of(f.name), profile_name)
            scores = candidates[choice.candidate][k][1]
            expected.append(score_file(f, scores, choice.threshold, profile))
        assert result.files[profile_name] == tuple(expected)
        total = result.total(profile_name)
        assert total.score == pytest.approx(sum(fs.score for fs in expected))
        null = sum(fs.null_score for fs in expected)
        perfect = sum(fs.perfect_score for fs in expected)
        assert total.normalised == pytest.approx(normalised_score(total.score, null, perfect))
        by_group = result.by_group(profile_name)
        assert sorted(by_group) == list(GROUPS)
        assert sum(g.score for g in by_group.values()) == pytest.approx(total.score)


def test_with_one_candidate_the_threshold_is_optimised_on_the_other_groups() -> None:
    """One candidate: each group's threshold is NAB's optimum over the other groups' files."""
    items = corpus(11)["c1"]
    result = leave_one_group_out({"only": items}, group_of)
    for group in GROUPS:
        train = [pair for pair in items if group_of(pair[0].name) != group]
        for name, profile in NAB_PROFILES.items():
            assert result.choice(group, name).threshold == optimize_threshold(train, profile).threshold


def test_a_candidate_good_only_on_the_held_out_group_is_not_chosen_for_it() -> None:
    """A candidate perfect on one group and useless elsewhere loses that group to a steady one."""
    rng = random.Random(3)
    files = [labels(f"{g}/f{k}.csv", rng) for g in GROUPS for k in range(2)]

    def perfect(f: NABFileLabels) -> list[float]:
        starts = {a for a, _ in f.windows}
        return [1.0 if i in starts else 0.0 for i in range(f.n_rows)]

    steady = [(f, perfect(f)) for f in files]
    cheat = [(f, perfect(f) if group_of(f.name) == "alpha" else [1.0] * f.n_rows) for f in files]
    result = leave_one_group_out({"cheat": cheat, "steady": steady}, group_of)
    assert {c.candidate for c in result.choices} == {"steady"}


def test_ties_go_to_the_candidate_listed_first() -> None:
    """Two candidates with identical scores: the first listed is chosen everywhere."""
    items = corpus(5)["c0"]
    result = leave_one_group_out({"zeta": items, "alpha": list(items)}, group_of)
    assert {c.candidate for c in result.choices} == {"zeta"}


def test_bad_input_is_refused_with_a_clear_message() -> None:
    """Different files per candidate, a single group or no candidate raise, saying what was wrong."""
    candidates = corpus(2)
    short = {"a": candidates["c0"], "b": candidates["c1"][:-1]}
    with pytest.raises(ValueError, match=r"candidates\['b'\] must score the same files"):
        leave_one_group_out(short, group_of)
    with pytest.raises(ValueError, match="needs at least two groups"):
        leave_one_group_out(candidates, lambda name: "all")
    with pytest.raises(ValueError, match="at least one candidate"):
        leave_one_group_out({}, group_of)
    with pytest.raises(TypeError, match="must pair NABFileLabels"):
        leave_one_group_out({"a": [("x", [0.0])]}, group_of)  # type: ignore[list-item]


def test_a_different_file_order_names_the_first_differing_file() -> None:
    """Same files in another order, or one missing or extra: the message names the first difference."""
    items = corpus(3)["c0"]
    swapped = [items[1], items[0], *items[2:]]
    with pytest.raises(
        ValueError,
        match=r"candidates\['b'\] must score the same files in the same order as the first candidate "
        r"\(6 files\), got 6 files: file \[0\] is 'alpha/f1.csv' "
        r"where the first candidate has 'alpha/f0.csv'",
    ):
        leave_one_group_out({"a": items, "b": swapped}, group_of)
    missing = r"got 5 files: file \[5\] 'gamma/f1.csv' of the first candidate is missing"
    with pytest.raises(ValueError, match=missing):
        leave_one_group_out({"a": items, "b": items[:-1]}, group_of)
    with pytest.raises(ValueError, match=r"got 6 files: file \[5\] 'gamma/f1.csv' is extra"):
        leave_one_group_out({"a": items[:-1], "b": items}, group_of)


@pytest.mark.parametrize(
    ("bad", "error", "expected"),
    [
        (None, TypeError, r"must be a non-empty str, got None \(NoneType\)"),
        ("", ValueError, r"must be a non-empty str, got ''"),
        (3, TypeError, r"must be a non-empty str, got 3 \(int\)"),
    ],
)
def test_group_of_must_give_a_non_empty_str(bad: object, error: type[Exception], expected: str) -> None:
    """A None, empty or non-str group is refused naming the file (not a sort TypeError, not a group '')."""
    candidates = corpus(4)

    def grouping(name: str) -> str:
        return bad if name == "beta/f1.csv" else group_of(name)  # type: ignore[return-value]

    with pytest.raises(error, match=r"leave_one_group_out: group_of\('beta/f1.csv'\) " + expected):
        leave_one_group_out(candidates, grouping)
