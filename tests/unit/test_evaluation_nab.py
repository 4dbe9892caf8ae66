"""Unit tests for NAB scoring: rules, one file, the corpus sweep and normalisation.

Expected values are worked out by hand from NAB's rules; each test writes the
arithmetic next to the number. S(x) = 2 / (1 + exp(5x)) - 1 is NAB's scaled
sigmoid, S(-1) = 0.986614 is the weight of a window's first row before scaling.
"""

from __future__ import annotations

import json
import math
import random

import pytest

from backend.analytics.evaluation import (
    NAB_PROFILES,
    NO_DETECTION_THRESHOLD,
    CostProfile,
    NABFileLabels,
    load_profiles,
    normalised_score,
    optimize_threshold,
    probationary_length,
    resolve_windows,
    scaled_sigmoid,
    score_corpus,
    score_file,
    sweep_thresholds,
    sweep_weights,
)

STANDARD = NAB_PROFILES["standard"]
LOW_FP = NAB_PROFILES["reward_low_FP_rate"]
LOW_FN = NAB_PROFILES["reward_low_FN_rate"]


def s(x: float) -> float:
    """NAB's scaled sigmoid, written out independently of the code under test."""
    return 2.0 / (1.0 + math.exp(5.0 * x)) - 1.0


# A 10-row file, rows 0-1 probationary, one window on rows 4..7 (width 4).
FILE_A = NABFileLabels("cat/a.csv", n_rows=10, probation=2, windows=((4, 7),))
# Row 2 fires before any window, row 5 inside the window, row 9 after it.
SCORES_A = [0.0, 0.95, 0.7, 0.0, 0.0, 0.9, 0.0, 0.0, 0.0, 0.8]
# Row 5: position -(7 - 5 + 1) / 4 = -0.75 -> S(-0.75) / S(-1) = 0.954045 / 0.986614 = 0.966989.
TP_ROW5 = s(-0.75) / s(-1.0)
# Row 9: distance (9 - 7) / (4 - 1) = 2/3 after the window -> 0.11 * S(2/3) = 0.11 * -0.931110 = -0.102422.
FP_ROW9 = 0.11 * s(2.0 / 3.0)
# Row 2: no window precedes it -> a full -0.11.
FP_ROW2 = -0.11


def test_scaled_sigmoid_reference_points() -> None:
    """S(-1) = 0.98661, S(-0.5) = 0.84828, S(0) = 0, S(1) = -0.98661, and -1 from 3 on."""
    assert scaled_sigmoid(-1.0) == pytest.approx(0.98661, abs=1e-5)
    assert scaled_sigmoid(-0.5) == pytest.approx(0.84828, abs=1e-5)
    assert scaled_sigmoid(0.0) == 0.0
    assert scaled_sigmoid(1.0) == pytest.approx(-0.98661, abs=1e-5)
    assert scaled_sigmoid(3.0) == -1.0
    assert scaled_sigmoid(math.inf) == -1.0


@pytest.mark.parametrize(
    ("n_rows", "expected"),
    [(0, 0), (20, 3), (4032, 604), (5000, 750), (22695, 750)],  # floor(0.15 n), at most 750
)
def test_probationary_length(n_rows: int, expected: int) -> None:
    """15% of the file, rounded down, at most 0.15 * 5000 = 750 rows."""
    assert probationary_length(n_rows) == expected


def test_profiles_match_nab() -> None:
    """The built-in profiles carry NAB's weights."""
    assert (STANDARD.tp_weight, STANDARD.fp_weight, STANDARD.fn_weight) == (1.0, 0.11, 1.0)
    assert (LOW_FP.tp_weight, LOW_FP.fp_weight, LOW_FP.fn_weight) == (1.0, 0.22, 1.0)
    assert (LOW_FN.tp_weight, LOW_FN.fp_weight, LOW_FN.fn_weight) == (1.0, 0.11, 2.0)


def test_load_profiles_reads_nab_json(tmp_path: pytest.TempPathFactory) -> None:
    """A profiles.json in NAB's shape loads into CostProfiles."""
    path = tmp_path / "profiles.json"  # type: ignore[operator]
    doc = {"p": {"CostMatrix": {"tpWeight": 1.0, "fnWeight": 2.0, "fpWeight": 0.5, "tnWeight": 1.0}}}
    path.write_text(json.dumps(doc))
    assert load_profiles(path) == {"p": CostProfile("p", 1.0, 0.5, 2.0)}


def test_load_profiles_names_missing_key(tmp_path: pytest.TempPathFactory) -> None:
    """A profile without fpWeight is rejected, naming the profile and key."""
    path = tmp_path / "profiles.json"  # type: ignore[operator]
    path.write_text(json.dumps({"p": {"CostMatrix": {"tpWeight": 1.0, "fnWeight": 1.0}}}))
    with pytest.raises(ValueError, match=r"profile 'p' lacks fpWeight"):
        load_profiles(path)


def test_cost_profile_rejects_negative_weight() -> None:
    """Weights are finite and >= 0; the message names the field and value."""
    with pytest.raises(ValueError, match=r"CostProfile: fp_weight must be a finite number >= 0, got -1"):
        CostProfile("x", 1.0, -1, 1.0)


def test_sweep_weights_by_hand() -> None:
    """Window rows weigh S(pos)/S(-1); rows before any window -fpWeight; rows after, fpWeight*S(dist)."""
    w = sweep_weights(FILE_A, STANDARD)
    assert w[0] == w[2] == w[3] == -0.11  # no window precedes rows 0..3
    assert w[4] == pytest.approx(1.0)  # first row: -(7-4+1)/4 = -1 -> S(-1)/S(-1)
    assert w[5] == pytest.approx(0.966989, abs=1e-6)  # -0.75, see TP_ROW5
    assert w[6] == pytest.approx(s(-0.5) / s(-1.0))  # -(7-6+1)/4 = -0.5 -> 0.859793
    assert w[7] == pytest.approx(0.562124, abs=1e-6)  # -(7-7+1)/4 = -0.25 -> 0.497... / 0.986614
    assert w[8] == pytest.approx(0.11 * s(1.0 / 3.0))  # (8-7)/3 -> -0.075049
    assert w[9] == pytest.approx(-0.102422, abs=1e-6)  # see FP_ROW9


def test_score_file_by_hand_all_fire() -> None:
    """Threshold 0.5: FP before the window, TP at row 5, FP after: -0.11 + 0.966989 - 0.102422."""
    result = score_file(FILE_A, SCORES_A, 0.5, STANDARD)
    expected = FP_ROW2 + TP_ROW5 + FP_ROW9  # = 0.754567 (row 1 fires too but is probationary)
    assert result.score == pytest.approx(expected)
    assert result.score == pytest.approx(0.754567, abs=1e-6)
    assert (result.tp, result.fp, result.fn, result.tn) == (1, 2, 3, 2)  # 8 scored rows
    assert (result.windows_detected, result.windows_missed) == (1, 0)
    assert (result.null_score, result.perfect_score) == (-1.0, 1.0)


def test_score_file_by_hand_only_true_positive() -> None:
    """Threshold 0.85: only row 5 fires (0.95 at row 1 is probationary): 0.966989."""
    assert score_file(FILE_A, SCORES_A, 0.85, STANDARD).score == pytest.approx(TP_ROW5)


def test_score_file_nothing_fires_costs_fn_weight() -> None:
    """Threshold above every scored row: one missed window = -fnWeight (2 under low-FN)."""
    assert score_file(FILE_A, SCORES_A, 0.96, STANDARD).score == -1.0
    assert score_file(FILE_A, SCORES_A, 0.96, LOW_FN).score == -2.0


def test_score_file_low_fp_profile_doubles_fp_cost() -> None:
    """reward_low_FP_rate: FPs weigh 0.22: -0.22 + 0.966989 + 0.22 * S(2/3) = 0.542145."""
    result = score_file(FILE_A, SCORES_A, 0.5, LOW_FP)
    assert result.score == pytest.approx(-0.22 + TP_ROW5 + 0.22 * s(2.0 / 3.0))
    assert result.score == pytest.approx(0.542145, abs=1e-6)


def test_only_earliest_detection_in_window_counts() -> None:
    """Rows 5, 6, 7 all fire: the window scores its best (earliest) row only, 0.966989."""
    scores = [0.0] * 10
    scores[5] = scores[6] = scores[7] = 0.9
    assert score_file(FILE_A, scores, 0.5, STANDARD).score == pytest.approx(TP_ROW5)


def test_window_in_probation_is_neither_found_nor_missed() -> None:
    """A window that ends inside the probation costs nothing when missed; perfect still counts it."""
    labels = NABFileLabels("cat/p.csv", n_rows=10, probation=5, windows=((1, 3), (6, 8)))
    result = score_file(labels, [0.0] * 10, 0.5, STANDARD)
    assert result.score == -1.0  # only window (6, 8) is missed
    assert (result.null_score, result.perfect_score) == (-1.0, 2.0)  # NAB: tpWeight per label window


def test_fp_after_second_window_uses_closest_preceding_window() -> None:
    """An FP at row 9 after windows (1,2) and (5,7): distance (9-7)/(3-1) = 1 -> 0.11 * S(1)."""
    labels = NABFileLabels("cat/two.csv", n_rows=10, probation=0, windows=((1, 2), (5, 7)))
    scores = [0.0] * 10
    scores[9] = 1.0
    result = score_file(labels, scores, 1.0, STANDARD)
    # -2 for the two missed windows, 0.11 * S(1) = 0.11 * -0.986614 = -0.108528
    assert result.score == pytest.approx(-2.0 + 0.11 * s(1.0))
    assert result.score == pytest.approx(-2.108528, abs=1e-6)


def test_one_row_window_fp_after_it_costs_full_weight() -> None:
    """After a one-row window (width - 1 = 0) the distance is infinite: a full -fpWeight."""
    labels = NABFileLabels("cat/one.csv", n_rows=6, probation=0, windows=((2, 2),))
    assert sweep_weights(labels, STANDARD)[4] == -0.11


def test_resolve_windows_uses_first_matching_rows() -> None:
    """Window bounds become the first rows carrying those timestamps; probation from the row count."""
    stamps = [0, 10, 20, 20, 30, 40, 50]
    labels = resolve_windows("c/f.csv", stamps, [(20, 40)])
    assert labels.windows == ((2, 5),)
    assert (labels.n_rows, labels.probation) == (7, 1)  # floor(0.15 * 7) = 1


def test_resolve_windows_names_unmatched_bound() -> None:
    """A window bound that is no row's timestamp is an error naming file, window and bound."""
    with pytest.raises(ValueError, match=r"'c/f.csv': window\[0\] end 35"):
        resolve_windows("c/f.csv", [0, 10, 20, 30, 40], [(10, 35)])


def test_labels_reject_overlapping_windows() -> None:
    """Windows must be ascending and disjoint; the message names the window index."""
    with pytest.raises(ValueError, match=r"windows\[1\]"):
        NABFileLabels("c/f.csv", n_rows=10, probation=0, windows=((1, 4), (4, 6)))


def test_score_file_rejects_wrong_length_and_nan() -> None:
    """One finite score per row is required."""
    with pytest.raises(ValueError, match=r"expected 10 anomaly scores"):
        score_file(FILE_A, [0.0] * 9, 0.5, STANDARD)
    with pytest.raises(ValueError, match=r"scores\[3\]: expected a finite number, got nan"):
        score_file(FILE_A, [0.0, 0.0, 0.0, math.nan] + [0.0] * 6, 0.5, STANDARD)
    for bad, shown in (("0.5", r"'0.5' \(str\)"), (True, r"True \(bool\)")):
        with pytest.raises(TypeError, match=rf"scores\[2\] must be a finite real number, got {shown}"):
            score_file(FILE_A, [0.0, 0.0, bad] + [0.0] * 7, 0.5, STANDARD)  # type: ignore[arg-type]


def test_sweep_curve_by_hand() -> None:
    """Candidates: 1.1, then each distinct scored score descending; rows fire at score >= T."""
    curve = sweep_thresholds([(FILE_A, SCORES_A)], STANDARD)
    thresholds = [t for t, _ in curve]
    assert thresholds == [NO_DETECTION_THRESHOLD, 0.9, 0.8, 0.7, 0.0]  # 0.95 is probationary
    scores = dict(curve)
    assert scores[1.1] == -1.0
    assert scores[0.9] == pytest.approx(TP_ROW5)
    assert scores[0.8] == pytest.approx(TP_ROW5 + FP_ROW9)
    assert scores[0.7] == pytest.approx(TP_ROW5 + FP_ROW9 + FP_ROW2)
    # At 0 every scored row fires: row 4 (the window's first row, 1.0) becomes the window's best,
    # rows 3 and 8 add -0.11 and 0.11 * S(1/3).
    assert scores[0.0] == pytest.approx(1.0 + FP_ROW9 + FP_ROW2 - 0.11 + 0.11 * s(1.0 / 3.0))


def test_optimizer_picks_best_threshold() -> None:
    """The best of the curve above is T = 0.9 with raw score 0.966989."""
    choice = optimize_threshold([(FILE_A, SCORES_A)], STANDARD)
    assert choice.threshold == 0.9
    assert choice.score == pytest.approx(TP_ROW5)


def test_optimizer_tie_goes_to_highest_threshold() -> None:
    """Lowering from 0.9 to 0.6 adds only a later row of a found window: equal scores, 0.9 kept."""
    scores = [0.0] * 10
    scores[5], scores[6] = 0.9, 0.6
    assert optimize_threshold([(FILE_A, scores)], STANDARD).threshold == 0.9


def test_optimizer_is_corpus_wide() -> None:
    """One threshold for all files: file B alone would prefer 0.4, but 0.4 costs file A more.

    A: window found at 0.9; at 0.4 rows 2 and 9 (scores 0.4) also fire: -0.11 + FP_ROW9.
    B: its window's only detection scores 0.4 -> at 0.9: -1, at 0.4: +1 (first row).
    Corpus at 0.9: TP_ROW5 - 1 = -0.033; at 0.4: TP_ROW5 - 0.11 + FP_ROW9 + 1 = 1.754567.
    """
    file_b = NABFileLabels("cat/b.csv", n_rows=10, probation=2, windows=((4, 7),))
    scores_a = [0.0, 0.0, 0.4, 0.0, 0.0, 0.9, 0.0, 0.0, 0.0, 0.4]
    scores_b = [0.0, 0.0, 0.0, 0.0, 0.4, 0.0, 0.0, 0.0, 0.0, 0.0]
    choice = optimize_threshold([(FILE_A, scores_a), (file_b, scores_b)], STANDARD)
    assert choice.threshold == 0.4
    assert choice.score == pytest.approx(TP_ROW5 - 0.11 + FP_ROW9 + 1.0)


def _two_files() -> list[NABFileLabels]:
    # Long enough (170 scored rows each) that firing everywhere costs more than it finds.
    return [
        NABFileLabels("x/a.csv", n_rows=200, probation=30, windows=((40, 43), (60, 63))),
        NABFileLabels("y/b.csv", n_rows=200, probation=30, windows=((50, 53),)),
    ]


def test_null_detector_scores_zero_and_perfect_hundred() -> None:
    """Never firing normalises to 0; one detection at each window's first row to 100, all profiles."""
    files = _two_files()
    null = score_corpus([(f, [0.0] * f.n_rows) for f in files])
    perfect_items = []
    for f in files:
        scores = [0.0] * f.n_rows
        for first, _ in f.windows:
            scores[first] = 1.0
        perfect_items.append((f, scores))
    perfect = score_corpus(perfect_items)
    for name in NAB_PROFILES:
        assert null[name].normalised == 0.0
        assert null[name].threshold == NO_DETECTION_THRESHOLD
        assert perfect[name].normalised == pytest.approx(100.0)
        assert perfect[name].threshold == 1.0


def test_normalised_score_by_hand() -> None:
    """Two of three windows found at their first rows, one FP before any window.

    S = 1 + 1 - 1 (missed) - 0.11 = 0.89; S_null = -3; S_perfect = 3 -> 100 * 3.89 / 6 = 64.8333.
    """
    files = _two_files()
    a = [0.0] * 200
    a[40] = a[60] = 1.0
    a[35] = 1.0  # after the probation, before any window: -0.11
    b = [0.0] * 200
    result = score_corpus([(files[0], a), (files[1], b)], {"standard": STANDARD})["standard"]
    assert result.threshold == 1.0
    assert result.score == pytest.approx(0.89)
    assert result.normalised == pytest.approx(100 * 3.89 / 6)
    assert result.normalised == pytest.approx(64.8333, abs=1e-4)
    groups = result.by_group(lambda name: name.split("/")[0])
    assert groups["x"].normalised == pytest.approx(100 * (1.89 + 2) / 4)  # x: S = 1.89, null -2, perfect 2
    assert groups["y"].normalised == 0.0
    assert result.subset(["y/b.csv"]).score == -1.0


def test_fixed_threshold_scores_held_out_files() -> None:
    """thresholds= fixes the threshold instead of optimising it."""
    files = _two_files()
    items = [(f, [0.5] * f.n_rows) for f in files]
    result = score_corpus(items, {"standard": STANDARD}, thresholds={"standard": 0.7})["standard"]
    assert result.threshold == 0.7
    assert result.score == -3.0  # nothing fires


def test_unknown_profile_in_thresholds_is_refused() -> None:
    """A misspelt profile key raises (naming it and the profiles) instead of re-optimising in-sample."""
    files = _two_files()
    items = [(f, [0.5] * f.n_rows) for f in files]
    with pytest.raises(
        ValueError,
        match=r"score_corpus: thresholds keys must be profile names \(one of 'standard', "
        r"'reward_low_FP_rate', 'reward_low_FN_rate'\), got 'standrad'",
    ):
        score_corpus(items, thresholds={"standrad": 0.99})
    with pytest.raises(ValueError, match=r"one of 'standard'\), got 'reward_low_FP_rate'"):
        score_corpus(items, {"standard": STANDARD}, thresholds={"reward_low_FP_rate": 0.5})


@pytest.mark.parametrize(
    ("bad", "error", "expected"),
    [
        (math.nan, ValueError, r"must be a finite real number, got nan"),
        (math.inf, ValueError, r"must be a finite real number, got inf"),
        ("0.5", TypeError, r"must be a finite real number, got '0.5' \(str\)"),
        (True, TypeError, r"must be a finite real number, got True \(bool\)"),
        (None, TypeError, r"must be a finite real number, got None \(NoneType\)"),
    ],
)
def test_thresholds_must_be_finite_numbers(bad: object, error: type[Exception], expected: str) -> None:
    """A nan, inf, str, bool or None threshold is refused, naming the argument, everywhere."""
    with pytest.raises(error, match=r"score_file\('cat/a.csv'\): threshold " + expected):
        score_file(FILE_A, SCORES_A, bad, STANDARD)  # type: ignore[arg-type]
    items = [(FILE_A, SCORES_A)]
    with pytest.raises(error, match=r"score_corpus: thresholds\['standard'\] " + expected):
        score_corpus(items, thresholds={"standard": bad})  # type: ignore[dict-item]


def test_finite_thresholds_outside_unit_interval_stay_allowed() -> None:
    """NAB accepts any finite score, so any finite threshold is scored (and ints are accepted)."""
    assert score_file(FILE_A, SCORES_A, 2, STANDARD).score == -1.0  # nothing fires
    everything = score_file(FILE_A, SCORES_A, -0.5, STANDARD)
    assert everything.tp + everything.fp == 8  # every scored row (2..9) fires
    assert score_corpus([(FILE_A, SCORES_A)], thresholds={"standard": 1.5})["standard"].score == -1.0


def test_normalised_score_needs_windows() -> None:
    """perfect == null (no windows) cannot be normalised."""
    with pytest.raises(ValueError, match=r"perfect_score must differ from null_score"):
        normalised_score(0.0, 0.0, 0.0)
    assert normalised_score(-1.0, -4.0, 4.0) == 37.5  # 100 * 3 / 8


def _random_file(rng: random.Random, k: int) -> tuple[NABFileLabels, list[float]]:
    n = rng.randrange(40, 120)
    cuts = sorted(rng.sample(range(probationary_length(n) - 3, n), 2 * rng.randrange(0, 3)))
    windows = tuple((cuts[i], cuts[i + 1]) for i in range(0, len(cuts), 2))
    labels = NABFileLabels(f"c{k % 2}/f{k}.csv", n, probationary_length(n), windows)
    return labels, [round(rng.random() ** 3, 1) for _ in range(n)]  # coarse scores: many ties


@pytest.mark.parametrize("seed", range(8))
def test_sweep_matches_brute_force(seed: int) -> None:
    """The one-pass sweep finds the same best score as scoring every candidate file by file."""
    rng = random.Random(seed)
    items = [_random_file(rng, k) for k in range(4)]
    for profile in NAB_PROFILES.values():
        candidates = {NO_DETECTION_THRESHOLD} | {
            s for labels, scores in items for s in scores[labels.probation :]
        }
        brute = {t: sum(score_file(lab, sc, t, profile).score for lab, sc in items) for t in candidates}
        best = max(brute.values())
        choice = optimize_threshold(items, profile)
        assert choice.score == pytest.approx(best, abs=1e-9)
        assert brute[choice.threshold] == pytest.approx(best, abs=1e-9)
        # Ties go to the highest threshold.
        assert choice.threshold == max(t for t, v in brute.items() if v >= best - 1e-9)
        curve = dict(sweep_thresholds(items, profile))
        assert set(curve) == candidates
        assert all(curve[t] == pytest.approx(brute[t], abs=1e-9) for t in candidates)
