"""The real lifecycle orchestrator and activities, played through the SDK's replay engine with
simulated time (tests/functions/durable_driver.py) on the real PostgreSQL and Redis."""
from datetime import timedelta

import azure.durable_functions as df
import pytest
from sqlalchemy import select

from app.domain.petitions import as_utc
from app.web.extensions import db
from app.repositories.models import Notification, Petition, Report
from app.services.mail import read_mail_dir
from tests.functions.durable_driver import DurableDriver, NonDeterminismError


def sign_at(clock_time, petition_id, user_ids):
    from petition_functions import clients

    with clients.services() as services:
        signing = services.signing()
        signing.clock = lambda: clock_time
        return [signing.sign(petition_id, uid) for uid in user_ids]


def drive(handles, clock, petition_id, closes_at, activities=None):
    """Starts the orchestration at the clock's time; the activities' services then read the
    driver's simulated time (fn_clients restores the clock after the test)."""
    from petition_functions import clients

    orchestrator, registered = handles
    driver = DurableDriver(orchestrator, activities or registered, clock.now, instance_id=f"petition-{petition_id}")
    clients.clock = lambda: driver.now
    return driver.start({"petition_id": petition_id, "closes_at": closes_at.isoformat()})


def petition_row(app, petition_id):
    with app.app_context():
        petition = db.session.get(Petition, petition_id)
        report = db.session.get(Report, petition_id)
        notes = db.session.scalars(select(Notification).where(Notification.petition_id == petition_id)).all()
        db.session.expunge_all()
        return petition, report, notes


def test_thirty_day_petition_runs_through_timers_to_closed_with_a_report(
    app, fn_clients, clock, make_petition, lifecycle_handles, redis_client
):
    launched = clock.now
    petition_id, _ = make_petition(days=30)
    closes_at = launched + timedelta(days=30)
    # 120 signers on day 0, 30 more on day 12; 100 is reached on day 0.
    sign_at(launched + timedelta(hours=1), petition_id, range(1000, 1120))
    sign_at(launched + timedelta(days=12), petition_id, range(2000, 2030))

    driver = drive(lifecycle_handles, clock, petition_id, closes_at)
    assert driver.custom_status == {"stage": "open", "closes_at": closes_at.isoformat()}
    driver.run(until=launched + timedelta(days=29))
    assert driver.status == "Running"
    assert driver.activity_log == []  # nothing closes before the deadline
    driver.run()

    assert driver.status == "Completed", driver.error
    # Azure Storage timers last at most 6 days: the SDK chained several, the last at closes_at.
    fired = [fire_at for fire_at, _ in driver.timer_log]
    assert len(fired) >= 5 and fired[-1] == closes_at
    gaps = [b - a for a, b in zip([launched] + fired, fired)]
    assert max(gaps) <= timedelta(days=6)
    assert [name for name, *_ in driver.activity_log] == ["close_petition", "build_report", "notify_owner"]
    assert driver.custom_status == {"stage": "done", "reason": "deadline"}
    assert driver.output["reason"] == "deadline"
    assert driver.output["closed"]["signature_count"] == 150

    petition, report, notes = petition_row(app, petition_id)
    assert petition.state == "closed" and petition.signature_count == 150
    assert as_utc(petition.closed_at) == closes_at
    assert report.final_count == 150
    assert report.milestones == [[100, (launched + timedelta(hours=1)).isoformat()]]
    assert len(report.per_day) == 31 and report.per_day[0][1] == 120 and report.per_day[12][1] == 30
    assert [n.kind for n in notes] == ["petition_closed"] and as_utc(notes[0].emailed_at) == closes_at
    assert [m.to for m in read_mail_dir(app.config["MAIL_DIR"]) if "closed" in m.subject] == ["owner1@example.com"]
    assert not redis_client.exists(f"petition:{petition_id}:signers")


def test_close_now_before_the_deadline_cancels_the_timer(app, fn_clients, clock, make_petition, lifecycle_handles):
    launched = clock.now
    petition_id, _ = make_petition(days=3)  # one short timer, whose cancellation the SDK reports
    sign_at(launched + timedelta(minutes=5), petition_id, [7, 8, 9])
    driver = drive(lifecycle_handles, clock, petition_id, launched + timedelta(days=3))
    driver.run(until=launched + timedelta(days=1))
    assert driver.status == "Running" and len(driver.timers) == 1

    driver.raise_event("close_now")
    driver.run()

    assert driver.status == "Completed", driver.error
    assert driver.cancelled_timers == [launched + timedelta(days=3)]
    assert driver.timer_log == []  # the deadline timer never fired
    assert driver.output["reason"] == "close_now"
    petition, report, _ = petition_row(app, petition_id)
    assert petition.state == "closed"
    assert as_utc(petition.closed_at) == launched + timedelta(days=1)
    assert report.final_count == 3


def test_close_now_on_a_long_petition_stops_waiting_at_once(app, fn_clients, clock, make_petition, lifecycle_handles):
    launched = clock.now
    petition_id, _ = make_petition(days=60)
    driver = drive(lifecycle_handles, clock, petition_id, launched + timedelta(days=60))
    driver.run(until=launched + timedelta(days=10))
    driver.raise_event("close_now")
    driver.run()
    assert driver.status == "Completed"
    assert driver.now == launched + timedelta(days=10)
    assert all(fired <= launched + timedelta(days=10) for fired, _ in driver.timer_log)


def take_down(app, petition_id):
    from app.web import wiring

    moderator = type("Moderator", (), {"id": 1, "display_name": "Mo"})
    with app.app_context():
        wiring.moderation().take_down(petition_id, moderator, "Names and insults a private person.")


@pytest.mark.parametrize("ended_by", ["close_now", "deadline"])
def test_a_taken_down_petition_ends_its_lifecycle_without_closing(
    app, fn_clients, clock, make_petition, lifecycle_handles, ended_by
):
    launched = clock.now
    petition_id, _ = make_petition(days=3)
    sign_at(launched + timedelta(minutes=5), petition_id, [7, 8])
    driver = drive(lifecycle_handles, clock, petition_id, launched + timedelta(days=3))
    driver.run(until=launched + timedelta(days=1))
    take_down(app, petition_id)
    if ended_by == "close_now":  # what the web app's on_take_down hook raises
        driver.raise_event("close_now")
    driver.run()

    assert driver.status == "Completed", driver.error
    assert [name for name, *_ in driver.activity_log] == ["close_petition"]
    assert driver.output["reason"] == "taken_down" and driver.custom_status == {"stage": "done", "reason": "taken_down"}
    petition, report, notes = petition_row(app, petition_id)
    assert petition.state == "taken_down" and petition.signature_count == 2
    assert report is None and notes == []


def flaky(function, failures):
    """Fault injection around the real activity: the first `failures` calls raise."""
    calls = {"n": 0}

    def activity(argument):
        calls["n"] += 1
        if calls["n"] <= failures:
            raise ConnectionError(f"store unavailable (attempt {calls['n']})")
        return function(argument)

    return activity


def test_an_activity_failing_twice_then_succeeding_completes_under_retry(
    app, fn_clients, clock, make_petition, lifecycle_handles
):
    launched = clock.now
    petition_id, _ = make_petition(days=1)
    sign_at(launched, petition_id, [1, 2])
    activities = dict(lifecycle_handles[1])
    activities["close_petition"] = flaky(activities["close_petition"], failures=2)
    driver = drive(lifecycle_handles, clock, petition_id, launched + timedelta(days=1), activities)
    driver.run()

    assert driver.status == "Completed", driver.error
    outcomes = [(name, outcome.split(":")[0]) for name, _, outcome, _ in driver.activity_log]
    assert outcomes == [
        ("close_petition", "ConnectionError"),
        ("close_petition", "ConnectionError"),
        ("close_petition", "ok"),
        ("build_report", "ok"),
        ("notify_owner", "ok"),
    ]
    # The attempts were spaced by the retry interval in simulated time.
    times = [when for _, _, _, when in driver.activity_log[:3]]
    assert times[1] - times[0] == timedelta(seconds=30) and times[2] - times[1] == timedelta(seconds=30)
    petition, report, _ = petition_row(app, petition_id)
    assert petition.state == "closed" and report.final_count == 2


def test_an_activity_that_always_fails_fails_the_orchestration(
    app, fn_clients, clock, make_petition, lifecycle_handles
):
    launched = clock.now
    petition_id, _ = make_petition(days=1)
    activities = dict(lifecycle_handles[1])
    activities["close_petition"] = flaky(activities["close_petition"], failures=10**6)
    driver = drive(lifecycle_handles, clock, petition_id, launched + timedelta(days=1), activities)
    driver.run()

    assert driver.status == "Failed"
    assert "store unavailable" in driver.error
    assert [name for name, *_ in driver.activity_log] == ["close_petition"] * 5  # maxNumberOfAttempts
    assert driver.custom_status == {"stage": "closing", "reason": "deadline"}
    petition, report, _ = petition_row(app, petition_id)
    assert petition.state == "open" and report is None  # the sweep picks it up later


def test_the_driver_catches_a_non_deterministic_orchestrator():
    from datetime import datetime, timezone

    runs = {"n": 0}

    def orchestrator(context):
        runs["n"] += 1  # differs on every replay, like reading the wall clock or random
        yield context.call_activity("step_a" if runs["n"] == 1 else "step_b", 1)
        return "done"

    handle = df.Orchestrator.create(orchestrator)
    driver = DurableDriver(handle, {"step_a": lambda x: x, "step_b": lambda x: x},
                           datetime(2026, 6, 1, tzinfo=timezone.utc))
    driver.start(None)
    with pytest.raises(NonDeterminismError, match="step_b"):
        driver.run()


def test_the_driver_replays_a_deterministic_orchestrator_cleanly():
    from datetime import datetime, timezone

    def orchestrator(context):
        first = yield context.call_activity("double", 2)
        yield context.create_timer(context.current_utc_datetime + timedelta(hours=1))
        second = yield context.call_activity("double", first)
        return second

    handle = df.Orchestrator.create(orchestrator)
    start = datetime(2026, 6, 1, tzinfo=timezone.utc)
    driver = DurableDriver(handle, {"double": lambda x: x * 2}, start).start(None).run()
    assert driver.status == "Completed" and driver.output == 8
    assert driver.now == start + timedelta(hours=1)
    assert driver.replays == 4
