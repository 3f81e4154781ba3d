"""Per-model rate limits: a sliding one-minute window of requests and tokens."""

from glanc.execute.limits import ModelLimits


def test_requests_per_minute_hold_until_the_window_moves():
    limits = ModelLimits(inflight=8, rpm=2)
    assert limits.may_start(0.0)
    limits.started(0.0)
    limits.started(1.0)
    assert not limits.may_start(30.0)
    assert limits.may_start(60.0)  # the first request left the window


def test_tokens_per_minute_count_finished_calls_and_the_next_estimate():
    limits = ModelLimits(inflight=8, tpm=1000)
    limits.finished(0.0, 400)
    assert limits.may_start(1.0)  # 400 + estimated 400 <= 1000
    limits.finished(1.0, 400)
    assert not limits.may_start(2.0)  # 800 + 400 > 1000
    assert limits.may_start(60.5)  # the first call's tokens expired


def test_no_limits_always_start():
    limits = ModelLimits(inflight=1)
    for t in range(1000):
        limits.started(float(t) / 1000)
    assert limits.may_start(1.0)
