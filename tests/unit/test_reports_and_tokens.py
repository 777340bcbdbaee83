"""Pure rules: the closing report's arithmetic, its chart geometry and CSV, and signing tokens."""
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from app.domain.errors import NotAuthenticated
from app.services.reports import compute_report, report_chart, report_csv
from app.services.signing_tokens import SigningTokens

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)


def petition(days=3, closed_after=None):
    closes_at = T0 + timedelta(days=days)
    return SimpleNamespace(launched_at=T0, closes_at=closes_at, closed_at=T0 + closed_after if closed_after else closes_at)


def test_milestones_are_the_times_of_the_100th_and_1000th_signatures():
    times = [T0 + timedelta(minutes=i) for i in range(1500)]
    report = compute_report(petition(days=2), iter(times))
    assert report["final_count"] == 1500
    assert report["milestones"] == [[100, times[99].isoformat()], [1000, times[999].isoformat()]]
    assert (report["first_signature_at"], report["last_signature_at"]) == (times[0], times[-1])
    assert sum(n for _, n in report["per_day"]) == 1500


def test_empty_petition_has_zero_days_and_no_times():
    report = compute_report(petition(days=2), iter([]))
    assert report["final_count"] == 0
    assert report["per_day"] == [["2026-03-01", 0], ["2026-03-02", 0], ["2026-03-03", 0]]
    assert report["first_signature_at"] is None and report["milestones"] == []


def test_early_close_ends_the_days_at_the_close():
    report = compute_report(petition(days=30, closed_after=timedelta(days=1)), iter([T0]))
    assert [d for d, _ in report["per_day"]] == ["2026-03-01", "2026-03-02"]


def report_row(per_day, milestones=()):
    return SimpleNamespace(per_day=per_day, milestones=list(milestones))


def test_chart_bars_scale_to_the_peak_day():
    chart = report_chart(report_row([["2026-03-01", 10], ["2026-03-02", 0], ["2026-03-03", 5]]))
    heights = [bar["height"] for bar in chart["bars"]]
    assert heights[0] == chart["baseline"] - chart["pad"] and heights[1] == 0 and heights[2] == heights[0] / 2
    assert all(bar["y"] + bar["height"] == chart["baseline"] for bar in chart["bars"])
    xs = [bar["x"] for bar in chart["bars"]]
    assert xs == sorted(xs) and xs[-1] + chart["bars"][-1]["width"] <= chart["width"] - chart["pad"]
    assert chart["bars"][0]["label"] == "2026-03-01: 10 signatures"


def test_chart_of_a_report_without_signatures_draws_flat_bars():
    chart = report_chart(report_row([["2026-03-01", 0]]))
    assert chart["peak"] == 0 and chart["bars"][0]["height"] == 0


def test_csv_has_a_running_total_and_the_milestones_each_day_reached():
    report = report_row(
        [["2026-03-01", 99], ["2026-03-02", 1], ["2026-03-03", 900]],
        milestones=[[100, "2026-03-02T09:00:00+00:00"], [1000, "2026-03-03T18:30:00+00:00"]],
    )
    assert report_csv(report) == (
        "date,signatures,total,milestones_reached\n"
        "2026-03-01,99,99,\n2026-03-02,1,100,100\n2026-03-03,900,1000,1000\n"
    )


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self):
        return self.now


def test_sign_token_is_bound_to_user_and_petition_and_expires_after_ten_minutes():
    clock = Clock()
    tokens = SigningTokens("k" * 32, clock=clock)
    token = tokens.sign_token(5, 9, confirmed=True)
    assert tokens.signer_for(token, 9).user_id == 5
    with pytest.raises(NotAuthenticated, match="another petition"):
        tokens.signer_for(token, 10)
    clock.now += timedelta(minutes=10)
    assert tokens.signer_for(token, 9).user_id == 5
    clock.now += timedelta(seconds=1)
    with pytest.raises(NotAuthenticated, match="expired"):
        tokens.signer_for(token, 9)


def test_tokens_from_another_secret_or_purpose_are_refused():
    tokens = SigningTokens("k" * 32)
    with pytest.raises(NotAuthenticated, match="not valid"):
        tokens.signer_for(SigningTokens("x" * 32).sign_token(5, 9, confirmed=True), 9)
    with pytest.raises(NotAuthenticated, match="not valid"):
        tokens.signer_for(tokens.lifecycle_token(9), 9)
    with pytest.raises(NotAuthenticated, match="required"):
        tokens.signer_for("", 9)


def test_max_age_cannot_exceed_ten_minutes():
    assert SigningTokens("k" * 32, max_age=3600).max_age == 600
