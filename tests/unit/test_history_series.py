"""Signatures over time as pure arithmetic: periods, windows, running totals and milestones."""
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from app.domain.errors import InvalidInput
from app.services.history import HistoryQuery, history_series, milestones, parse_day, parse_history_query

T0 = datetime(2026, 3, 1, 22, 0, tzinfo=timezone.utc)


def petition(closed_at=None):
    return SimpleNamespace(id=7, state="closed" if closed_at else "open", launched_at=T0 + timedelta(minutes=30),
                           closed_at=closed_at, taken_down_at=None)


def test_hours_are_zero_filled_from_the_launch_hour_to_now():
    hours = [(T0, 2), (T0 + timedelta(hours=2), 5)]
    series = history_series(petition(), hours, HistoryQuery(), now=T0 + timedelta(hours=3, minutes=1))
    assert [(p["signatures"], p["total"]) for p in series["data"]] == [(2, 2), (0, 2), (5, 7), (0, 7)]
    assert series["from"] == T0.isoformat() and series["to"] == (T0 + timedelta(hours=4)).isoformat()


def test_days_are_utc_days_and_a_closed_petition_ends_at_its_close():
    hours = [(T0, 2), (T0 + timedelta(hours=1), 3), (T0 + timedelta(hours=3), 4)]  # 22:00, 23:00, 01:00
    closed = petition(closed_at=T0 + timedelta(days=1))
    series = history_series(closed, hours, HistoryQuery("day"), now=T0 + timedelta(days=9))
    assert [(p["start"][:10], p["signatures"], p["total"]) for p in series["data"]] == [
        ("2026-03-01", 5, 5), ("2026-03-02", 4, 9)]


def test_a_window_keeps_the_running_total_of_what_came_before():
    hours = [(T0, 2), (T0 + timedelta(hours=1), 3), (T0 + timedelta(hours=2), 4)]
    query = HistoryQuery("hour", T0 + timedelta(minutes=70), T0 + timedelta(hours=2))
    series = history_series(petition(), hours, query, now=T0 + timedelta(hours=5))
    assert [(p["signatures"], p["total"]) for p in series["data"]] == [(3, 5)]  # from rounds down, to is exclusive
    for end in (T0 - timedelta(days=1), datetime.min.replace(tzinfo=timezone.utc)):  # before the launch
        assert history_series(petition(), hours, HistoryQuery("hour", None, end), now=T0)["data"] == []
    far = HistoryQuery("day", datetime.max.replace(tzinfo=timezone.utc) - timedelta(hours=1), None)
    assert history_series(petition(), hours, far, now=T0)["data"] == []


def test_several_milestones_can_fall_in_one_hour():
    assert milestones([(T0, 99), (T0 + timedelta(hours=1), 1_000)]) == [
        {"signatures": 100, "hour": (T0 + timedelta(hours=1)).isoformat()},
        {"signatures": 1_000, "hour": (T0 + timedelta(hours=1)).isoformat()},
    ]


def test_times_without_an_offset_are_utc_and_dates_are_midnight():
    query = parse_history_query({"from": "2026-03-01", "to": "2026-03-01T14:30+01:00", "interval": "day"})
    assert query.start == datetime(2026, 3, 1, tzinfo=timezone.utc)
    assert query.end == datetime(2026, 3, 1, 13, 30, tzinfo=timezone.utc)


@pytest.mark.parametrize("text", ["0001-01-01T00:00+01:00", "9999-12-31T23:59-01:00", "2026-03-01T25:00", "now"])
def test_times_out_of_range_or_unreadable_are_refused(text):
    with pytest.raises(InvalidInput, match="from must be an ISO 8601"):
        parse_history_query({"from": text})


@pytest.mark.parametrize("text", ["2026-3-1", "20260301", "2026-02-29", "", "2026-03-01T00:00"])
def test_a_day_must_be_a_real_date_written_in_full(text):
    with pytest.raises(InvalidInput):
        parse_day(text)
