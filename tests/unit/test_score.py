"""考评: a score is the weighted mean of the rates that have a denominator, out of 100; the
ranking puts the best first and lets equal scores share a place."""

from __future__ import annotations

import pytest

from domain.kpi import Counts
from domain.score import DEFAULT_WEIGHTS, check_weights, ranking


def counts(**figures: int) -> Counts:
    return Counts(**figures)


# 4 received, all closed; 3 of 4 accepted on time; 4 replied, 2 on time; 2 rated, both
# satisfied, 1 solved; 1 unreachable and 1 reopened of 4 replied.
MIXED = counts(
    received=4,
    dispatched=4,
    closed=4,
    accepted_on_time=3,
    replied=4,
    replied_on_time=2,
    rated=2,
    satisfied=2,
    solved=1,
    unreachable=1,
    reopened=1,
)


def test_score_is_the_weighted_mean_with_unreachable_and_reopen_counted_against() -> None:
    (row,) = ranking("unit", {"U1": MIXED}, DEFAULT_WEIGHTS)
    # completion 1, response .75, on-time .5, satisfaction 1, resolution .5, unreachable .25
    # and reopen .25 (each counts .75): .1 + .1125 + .1 + .25 + .05 + .075 + .075 = .7625
    assert row.score == 76.25
    assert row.points == {
        "completion": 10.0,
        "response": 11.25,
        "on_time": 10.0,
        "satisfaction": 25.0,
        "resolution": 5.0,
        "unreachable": 7.5,
        "reopen": 7.5,
    }
    assert row.rates["unreachable"].numerator == 1 and row.rates["unreachable"].denominator == 4
    assert (row.rates["reopen"].numerator, row.rates["reopen"].denominator) == (1, 4)


def test_a_rate_with_no_denominator_leaves_its_weight_to_the_others() -> None:
    unrated = counts(
        received=2,
        dispatched=2,
        closed=2,
        accepted_on_time=1,
        replied=2,
        replied_on_time=2,
        unrated=2,
    )
    (row,) = ranking("unit", {"U2": unrated}, DEFAULT_WEIGHTS)
    # satisfaction and resolution have no rated case: (.1 + .075 + .2 + .1 + .1) / .65
    assert row.points["satisfaction"] is None and row.points["resolution"] is None
    assert row.score == 88.46  # 100 * .575 / .65 = 88.4615...
    assert row.points["on_time"] == 30.77  # 100 * .2 / .65


def test_nothing_to_weigh_is_no_score_and_no_rank() -> None:
    only_received = counts(received=1)  # routed nowhere yet: nothing but completion (0 of 1)
    rows = ranking("unit", {"U3": only_received}, {"satisfaction": 1.0})
    assert rows[0].score is None and rows[0].rank is None


def test_best_first_equal_scores_share_a_place_unscored_last() -> None:
    perfect = counts(
        received=1,
        dispatched=1,
        closed=1,
        accepted_on_time=1,
        replied=1,
        replied_on_time=1,
        rated=1,
        satisfied=1,
        solved=1,
    )
    rows = ranking(
        "community",
        {"C09": counts(received=1), "C02": MIXED, "C01": perfect, "C03": perfect},
        {"satisfaction": 1.0, "on_time": 1.0},
    )
    assert [(r.group["community"], r.rank, r.score) for r in rows] == [
        ("C01", 1, 100.0),
        ("C03", 1, 100.0),
        ("C02", 3, 75.0),  # (1 + .5) / 2
        ("C09", None, None),
    ]


def test_weights_name_rates_and_are_not_all_zero() -> None:
    with pytest.raises(ValueError, match="no such rate"):
        check_weights({"speed": 1.0})
    with pytest.raises(ValueError, match="at least one"):
        check_weights({"satisfaction": 0.0})
    with pytest.raises(ValueError, match="zero or more"):
        check_weights({"satisfaction": 1.0, "on_time": -0.5})


def test_exempted_cases_leave_the_score_and_raw_keeps_them() -> None:
    # U1: MIXED (76.25 raw) of which one exempted case: accepted late, replied late, rated
    # satisfied, not solved, the unreachable one cannot be it (it was rated).
    exempted = counts(received=1, dispatched=1, closed=1, replied=1, rated=1, satisfied=1)
    (row,) = ranking("unit", {"U1": MIXED}, DEFAULT_WEIGHTS, {"U1": exempted})
    assert row.exempted == 1
    assert row.raw.score == 76.25 and row.raw.counts == MIXED
    # Left: 3 received and closed, 3 of 3 accepted on time, 2 on time of 3 replied, 1 rated,
    # satisfied and solved, 1 unreachable and 1 reopened of 3:
    # .1 + .15 + .2 * 2/3 + .25 + .1 + .1 * 2/3 + .1 * 2/3 = .866667
    assert row.counts.received == 3 and row.rates["on_time"].denominator == 3
    assert row.score == 86.67
