"""Token buckets and the station API's limiting policy, on an injected clock."""

import pytest

from broadcaster.stations.ratelimit import StationLimiter, TokenBuckets, retry_after


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_its_burst_then_one_per_refill():
    clock = Clock()
    buckets = TokenBuckets(rate=0.5, burst=3, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(2.0)  # one token every 2 s
    assert buckets.take("b") == 0.0  # keys do not share
    clock.now += 2.0
    assert buckets.take("a") == 0.0
    assert buckets.take("a") == pytest.approx(2.0)
    clock.now += 3600
    assert [buckets.take("a") for _ in range(4)][:3] == [0.0, 0.0, 0.0]  # never past burst


def test_full_buckets_are_forgotten_when_there_are_too_many_keys():
    clock = Clock()
    buckets = TokenBuckets(rate=1.0, burst=2, clock=clock, max_keys=100)
    for key in range(100):
        buckets.take(key)
    clock.now += 10  # all refilled: forgetting them changes nothing
    buckets.take("new")
    assert len(buckets) == 1


def test_retry_after_is_whole_seconds_and_never_zero():
    assert retry_after(0.01) == 1 and retry_after(2.0) == 2 and retry_after(2.1) == 3


def limiter(clock):
    return StationLimiter(
        per_minute=60, burst=2, failures_per_minute=6, failure_burst=3, clock=clock
    )


def test_a_token_that_worked_spends_its_own_bucket():
    clock = Clock()
    limits = limiter(clock)
    first = limits.check("good", "10.0.0.1")
    assert first.wait == 0.0 and not first.known
    limits.settle(first, authenticated=True, refused=False)  # spends one
    assert limits.check("good", "10.0.0.1").wait == 0.0  # spends the second
    assert limits.check("good", "10.0.0.1").wait == pytest.approx(1.0)
    assert limits.check("other-good", "10.0.0.1").wait == 0.0


def test_bad_tokens_spend_their_address_but_not_good_stations_behind_it():
    clock = Clock()
    limits = limiter(clock)
    good = limits.check("good", "10.0.0.1")
    limits.settle(good, authenticated=True, refused=False)
    for guess in range(3):
        verdict = limits.check(f"guess-{guess}", "10.0.0.1")
        assert verdict.wait == 0.0
        limits.settle(verdict, authenticated=False, refused=True)
    assert limits.check("guess-3", "10.0.0.1").wait == pytest.approx(10.0)  # 6 a minute
    assert limits.check(None, "10.0.0.1").wait > 0  # no token at all: the same
    assert limits.check("good", "10.0.0.1").wait == 0.0  # the station goes on
    assert limits.check("guess-4", "10.0.0.2").wait == 0.0  # another address is not blamed


def test_a_revoked_token_falls_back_to_its_address_limits():
    clock = Clock()
    limits = limiter(clock)
    limits.settle(limits.check("t", "10.0.0.1"), authenticated=True, refused=False)
    revoked = limits.check("t", "10.0.0.1")
    assert revoked.known
    limits.settle(revoked, authenticated=False, refused=True)
    assert not limits.check("t", "10.0.0.1").known


def test_a_public_request_with_a_made_up_token_admits_nothing():
    clock = Clock()
    limits = limiter(clock)
    verdict = limits.check("made-up", "10.0.0.1")  # e.g. GET /openapi.json
    limits.settle(verdict, authenticated=False, refused=False)
    assert not limits.check("made-up", "10.0.0.1").known
