"""db/timeline.py: duration buckets, the bucketed percentile's error, runs and the changes of one event."""

import datetime as dt
import math
import random
from collections import Counter

import pytest

from db import timeline
from db.timeline import Neighbourhood

T = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
S = dt.timedelta(seconds=1)


def exact_percentile(values, fraction):
    """Nearest rank: the smallest value with at least ``fraction`` of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


def histogram(values_ms):
    """The stored form: stays per bucket, by bucket index."""
    return timeline.dense(Counter(timeline.duration_bucket(dt.timedelta(milliseconds=v)) for v in values_ms))


def test_buckets_are_quarter_octaves_with_integer_bounds():
    assert timeline.duration_bucket(dt.timedelta(0)) == 0
    assert timeline.duration_bucket(dt.timedelta(microseconds=999)) == 0
    assert timeline.duration_bucket(dt.timedelta(milliseconds=1)) == 1
    widths = [b / a for a, b in zip(timeline.BOUNDS, timeline.BOUNDS[1:], strict=False) if a >= 1000]
    assert max(widths) <= 2**0.25 * 1.001 and min(widths) >= 2**0.25 * 0.999
    assert pytest.approx(2**0.25 - 1, rel=1e-3) == timeline.MAX_RELATIVE_ERROR
    # Every duration falls in the bucket whose range holds it.
    for ms in (1, 7, 999, 1000, 1001, 59_999, 3_600_000, 86_400_000 * 400):
        low, high = timeline.bucket_range(timeline.duration_bucket(dt.timedelta(milliseconds=ms)))
        assert low <= ms < high


@pytest.mark.parametrize(
    "draw",
    [
        lambda rnd: rnd.expovariate(1 / 600_000),  # exponential, mean 10 minutes
        lambda rnd: rnd.lognormvariate(11, 2),  # heavy tail, seconds to days
        lambda rnd: rnd.uniform(1000, 2000),  # narrow: one octave
        lambda rnd: 30_000 + rnd.paretovariate(1.5) * 1000,  # a floor and a long tail
    ],
    ids=["exponential", "lognormal", "narrow", "pareto"],
)
@pytest.mark.parametrize("n", [1, 7, 100, 5000])
def test_the_bucketed_percentile_is_within_one_bucket_of_the_exact_one(draw, n):
    """The estimate and the exact nearest-rank value share a bucket: for durations of a second or more
    they are at most 2^(1/4) apart (19 %), whatever the distribution and the number of stays."""
    rnd = random.Random(n)
    values = [max(1000, int(draw(rnd))) for _ in range(n)]
    counts = histogram(values)
    for fraction in (0.5, 0.95, 0.99):
        exact = exact_percentile(values, fraction)
        estimate = timeline.percentile_ms(counts, fraction)
        assert abs(estimate / exact - 1) <= timeline.MAX_RELATIVE_ERROR, (fraction, exact, estimate)


def test_the_typical_error_on_many_stays_is_small():
    """Thousands of stays of a smooth distribution: the estimate lands near the exact value (the figure
    docs/architecture.md states is measured on seeded data by benchmarks/insights.py)."""
    rnd = random.Random(3)
    values = [max(1, int(rnd.expovariate(1 / 600_000))) for _ in range(20_000)]
    counts = histogram(values)
    errors = [
        abs(timeline.percentile_ms(counts, f) / exact_percentile(values, f) - 1) for f in (0.5, 0.95, 0.99)
    ]
    assert max(errors) < 0.03


def test_an_empty_histogram_has_no_percentile():
    assert timeline.percentile_ms([], 0.5) is None
    assert timeline.percentile_ms([0, 0, 0], 0.5) is None


def test_stored_histograms_are_trimmed_and_summed_element_wise():
    assert timeline.dense({}) == [] and timeline.dense({3: 0}) == []
    assert timeline.dense({1: 2, 4: 1}) == [0, 2, 0, 0, 1]
    assert timeline.summed([[0, 2, 0, 0, 1], [5], [], [0, 0, 0, 0, 0, 0, 7]]) == [5, 2, 0, 0, 1, 0, 7]
    assert timeline.summed([]) == []
    assert timeline.duration_bucket(dt.timedelta(days=365 * 100)) == timeline.BUCKET_COUNT - 1


def test_whole_history_runs_stays_transitions_and_flags():
    events = [
        (1, "PENDING", T),
        (2, "RUNNING", T + 10 * S),
        (3, "RUNNING", T + 20 * S),  # progress: same run
        (4, "COMPLETED", T + 70 * S),
        (5, "RUNNING", T + 80 * S),  # not allowed after COMPLETED
    ]
    changes, since = timeline.whole_history(events)
    assert since == T + 80 * S
    assert changes.current == Counter({"RUNNING": 1})
    assert changes.stays == Counter(
        {
            (T + 10 * S, "PENDING", timeline.duration_bucket(10 * S)): 1,
            (T + 70 * S, "RUNNING", timeline.duration_bucket(60 * S)): 1,
            (T + 80 * S, "COMPLETED", timeline.duration_bucket(10 * S)): 1,
        }
    )
    assert changes.transitions[(T + 20 * S, "RUNNING", "RUNNING")] == 1
    assert changes.flags == [(5, "COMPLETED", "RUNNING", T + 80 * S)]
    # The mix: in PENDING from T, RUNNING from +10 s, COMPLETED from +70 s, RUNNING again from +80 s.
    assert +changes.mix == Counter(
        {
            (T, "PENDING"): 1,
            (T + 10 * S, "RUNNING"): 1,
            (T + 70 * S, "COMPLETED"): 1,
            (T + 80 * S, "RUNNING"): 1,
        }
    )


def brute(events):
    """whole_history of the sorted events, for comparing an insertion with a full recount."""
    ordered = sorted(events, key=lambda e: (e[2], e[0]))
    return timeline.whole_history(ordered)


@pytest.mark.parametrize("seed", range(300))
def test_inserting_an_event_changes_exactly_what_a_full_recount_changes(seed):
    """For random histories and a random new event anywhere in them, the neighbourhood's changes equal
    the difference of two full replays (ties on time: the new event sorts after the old ones)."""
    rnd = random.Random(seed)
    statuses = ("PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED")
    events = [(i + 1, rnd.choice(statuses), T + rnd.randrange(0, 12) * S) for i in range(rnd.randint(1, 8))]
    new = (len(events) + 1, rnd.choice(statuses), T + rnd.randrange(0, 13) * S)
    ordered = sorted(events, key=lambda e: (e[2], e[0]))
    position = sum(1 for e in ordered if (e[2], e[0]) < (new[2], new[0]))
    before = ordered[position - 1] if position else None
    after = ordered[position] if position < len(ordered) else None

    def run_start(index):
        while index > 0 and ordered[index - 1][1] == ordered[index][1]:
            index -= 1
        return ordered[index][2]

    def run_end(index):
        nxt = index
        while nxt < len(ordered) and ordered[nxt][1] == ordered[index][1]:
            nxt += 1
        return ordered[nxt][2] if nxt < len(ordered) else None

    old, old_since = brute(events)
    place = Neighbourhood(
        before,
        run_start(position - 1) if before else None,
        after,
        run_end(position) if after else None,
        old_since,
    )
    changes, since = timeline.insert_changes(place, new[1], new[2])
    fresh, fresh_since = brute([*events, new])
    assert since == fresh_since
    for name in ("current", "mix", "transitions", "stays"):
        expected = Counter(getattr(fresh, name))
        expected.subtract(getattr(old, name))
        assert getattr(changes, name) == Counter({k: n for k, n in expected.items() if n}), name
    old_flags = {e for e, *_ in old.flags}
    fresh_flags = {(new[0] if e is None else e) for e, *_ in changes.flags} | (
        old_flags - set(changes.unflag)
    )
    assert fresh_flags == {e for e, *_ in fresh.flags}
