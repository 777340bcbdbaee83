"""The close path (service, sweep, CLI) and the closing report's pages, JSON and CSV."""
import csv
import threading
import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.web import wiring
from app.domain.errors import InvalidTransition, NotFound
from app.domain.petitions import as_utc
from app.web.extensions import db
from app.repositories.models import Notification, Petition, Report
from app.repositories.outbox import Outbox
from app.repositories.petitions_sql import PetitionRepository
from app.services.petitions import PetitionService
from app.services.signing import SigningService
from tests.helpers import create_draft, register


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app


def launch(clock, days=30, owner_email="owner@example.com"):
    owner = wiring.accounts().register(owner_email, "Olive Owner", "correct horse battery")
    service = PetitionService(db.session, PetitionRepository(db.session), wiring.open_store(), clock=clock)
    petition = service.create_draft(owner, "Keep the night buses running", "Night workers need buses.", days)
    service.launch(petition.id, owner.id)
    return petition.id


def sign(petition_id, user_ids, when):
    signing = SigningService(wiring.open_store(), PetitionRepository(db.session), clock=lambda: when)
    return [signing.sign(petition_id, uid) for uid in user_ids]


def services(clock):
    from app.services.assembly import Services

    from flask import current_app

    return Services(db.session, wiring.redis_client(), wiring.open_store(), current_app.config, clock=clock)


def test_close_flushes_the_outbox_reconciles_redis_and_is_idempotent(ctx, clock, redis_client):
    petition_id = launch(clock, days=3)
    sign(petition_id, range(1, 6), clock.now + timedelta(hours=1))
    # A signer Redis holds whose outbox entry was lost before it reached SQL.
    redis_client.sadd(f"petition:{petition_id}:signers", 99)
    clock.advance(days=3)

    result = services(clock).closing().close(petition_id)
    assert (result.signature_count, result.already_closed) == (6, False)
    petition = db.session.get(Petition, petition_id)
    assert petition.state == "closed" and petition.signature_count == 6
    assert as_utc(petition.closed_at) == clock.now
    assert Outbox(redis_client).lag() == 0
    assert not redis_client.exists(f"petition:{petition_id}:doc", f"petition:{petition_id}:signers")
    assert redis_client.zscore("open:by_closing", petition_id) is None

    again = services(clock).closing().close(petition_id)
    assert (again.signature_count, again.already_closed, again.closed_at) == (6, True, result.closed_at)


def test_early_close_stops_signing_first(ctx, clock):
    petition_id = launch(clock, days=30)
    sign(petition_id, [1, 2], clock.now)
    clock.advance(days=2)
    result = services(clock).closing().close(petition_id)
    assert result.signature_count == 2
    assert as_utc(db.session.get(Petition, petition_id).closed_at) == clock.now
    from app.domain.errors import NotOpenForSigning

    with pytest.raises(NotOpenForSigning):
        sign(petition_id, [3], clock.now)


def test_drafts_and_unknown_petitions_cannot_be_closed(ctx, clock):
    owner = wiring.accounts().register("d@example.com", "Dee", "correct horse battery")
    draft = PetitionService(db.session, PetitionRepository(db.session), wiring.open_store()).create_draft(
        owner, "A draft that stays a draft", "Body", 30
    )
    with pytest.raises(InvalidTransition):
        services(clock).closing().close(draft.id)
    with pytest.raises(NotFound):
        services(clock).closing().close(12345)


def test_close_due_closes_only_petitions_past_their_deadline_with_report_and_notification(ctx, clock):
    due = launch(clock, days=1, owner_email="a@example.com")
    later = launch(clock, days=10, owner_email="b@example.com")
    sign(due, range(1, 101), clock.now + timedelta(minutes=30))
    clock.advance(days=1, seconds=1)

    results, failed = services(clock).close_coordinator().close_due()
    assert [r.petition_id for r in results] == [due] and failed == []
    assert db.session.get(Petition, later).state == "open"
    report = db.session.get(Report, due)
    assert report.final_count == 100
    assert report.milestones == [[100, (clock.now - timedelta(days=1, seconds=1) + timedelta(minutes=30)).isoformat()]]
    note = db.session.scalar(select(Notification).where(Notification.petition_id == due))
    assert "100 signatures" in note.body and "Milestones reached: 100" in note.body
    # A second sweep finds nothing and repeats nothing.
    assert services(clock).close_coordinator().close_due() == ([], [])
    assert len(db.session.scalars(select(Notification)).all()) == 1


def test_report_counts_per_day_with_zero_days_and_first_and_last_times(ctx, clock):
    start = clock.now
    petition_id = launch(clock, days=3)
    sign(petition_id, [1, 2], start + timedelta(hours=2))
    sign(petition_id, [3], start + timedelta(days=2, hours=1))
    clock.advance(days=3)
    services(clock).close_coordinator().finish(petition_id)
    report = services(clock).reports().get(petition_id)
    day = start.date()
    assert report.per_day == [
        [day.isoformat(), 2],
        [(day + timedelta(days=1)).isoformat(), 0],
        [(day + timedelta(days=2)).isoformat(), 1],
        [(day + timedelta(days=3)).isoformat(), 0],
    ]
    assert as_utc(report.first_signature_at) == start + timedelta(hours=2)
    assert as_utc(report.last_signature_at) == start + timedelta(days=2, hours=1)
    assert report.milestones == []
    # Building again returns the stored report rather than a second one.
    assert services(clock).reports().build(petition_id).created_at == report.created_at


def test_report_of_an_open_petition_is_refused(ctx, clock):
    petition_id = launch(clock)
    with pytest.raises(InvalidTransition):
        services(clock).reports().build(petition_id)


def closed_petition_with_report(app, clock):
    with app.app_context():
        petition_id = launch(clock, days=2)
        sign(petition_id, [1, 2, 3], clock.now + timedelta(hours=1))
        sign(petition_id, [4], clock.now + timedelta(days=1, hours=1))
        clock.advance(days=2)
        services(clock).close_coordinator().finish(petition_id)
    return petition_id


def test_closed_page_shows_the_report_with_an_svg_chart(app, client, clock):
    petition_id = closed_petition_with_report(app, clock)
    page = client.get(f"/petitions/{petition_id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Closing report" in html and "<svg" in html
    assert html.count('class="chart-bar"') == 3  # launch day, the next day, the closing day
    assert "style=" not in html.split("<svg", 1)[1].split("</svg>", 1)[0]  # CSP: no inline styles
    assert f"/petitions/{petition_id}/report.csv" in html
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]


def test_report_json_and_csv(app, client, clock):
    petition_id = closed_petition_with_report(app, clock)
    data = client.get(f"/api/petitions/{petition_id}/report").get_json()
    assert data["final_count"] == 4
    assert [d["signatures"] for d in data["signatures_per_day"]] == [3, 1, 0]
    assert data["milestones"] == []

    response = client.get(f"/petitions/{petition_id}/report.csv")
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["date", "signatures", "total", "milestones_reached"]
    assert [r[1:] for r in rows[1:]] == [["3", "3", ""], ["1", "4", ""], ["0", "4", ""]]


def test_report_routes_for_an_open_or_unknown_petition_are_404(app, client, clock):
    with app.app_context():
        petition_id = launch(clock)
    assert client.get(f"/api/petitions/{petition_id}/report").status_code == 404
    assert client.get(f"/api/petitions/{petition_id}/report").get_json()["error"]["code"] == "not_found"
    assert client.get(f"/petitions/{petition_id}/report.csv").status_code == 404
    assert client.get("/api/petitions/999/report").status_code == 404


def test_cli_close_and_close_due(app, clock):
    runner = app.test_cli_runner()
    with app.app_context():
        early = launch(clock, days=30, owner_email="e@example.com")
        sign(early, [1, 2], clock.now)
        past = launch(clock.__class__(clock.now - timedelta(days=2)), days=1, owner_email="p@example.com")
    result = runner.invoke(args=["petitions", "close", str(early)])
    assert result.exit_code == 0, result.output
    assert f"petition {early} closed with 2 signatures" in result.output
    result = runner.invoke(args=["petitions", "close", str(early)])
    assert f"petition {early} was already closed with 2 signatures" in result.output

    result = runner.invoke(args=["petitions", "close-due"])
    assert result.exit_code == 0, result.output
    assert f"closed petition {past} with 0 signatures" in result.output and "1 closed, 0 failed" in result.output
    with app.app_context():
        assert db.session.get(Petition, past).state == "closed"
        assert db.session.get(Report, past) is not None

    result = runner.invoke(args=["petitions", "close", "999"])
    assert result.exit_code != 0 and "No such petition" in result.output


def test_web_launch_in_inline_mode_needs_no_functions(client):
    register(client)
    petition_id = create_draft(client)
    from tests.helpers import launch as web_launch

    assert web_launch(client, petition_id).status_code == 302


def test_sweep_finishes_a_close_that_stopped_before_report_and_notification(ctx, clock):
    petition_id = launch(clock, days=1)
    sign(petition_id, [1], clock.now)
    clock.advance(days=1)
    services(clock).closing().close(petition_id)  # then the report step failed, say
    assert db.session.get(Report, petition_id) is None

    results, failed = services(clock).close_coordinator().close_due()
    assert [(r.petition_id, r.already_closed) for r in results] == [(petition_id, True)] and failed == []
    assert db.session.get(Report, petition_id).final_count == 1
    assert db.session.scalar(select(Notification).where(Notification.petition_id == petition_id)) is not None
    assert services(clock).close_coordinator().close_due() == ([], [])


def test_a_bounded_drain_stops_after_max_batches(ctx, clock, redis_client):
    from app.repositories.petitions_sql import SignatureRepository
    from app.services.persister import SignaturePersister

    petition_id = launch(clock)
    sign(petition_id, [1, 2, 3], clock.now)
    persister = SignaturePersister(Outbox(redis_client), SignatureRepository(db.session), db.session, batch_size=1)
    assert persister.drain(max_batches=2) == 2
    assert SignatureRepository(db.session).count_for(petition_id) == 2
    assert persister.drain() == 1


def test_two_sweeps_at_once_close_each_petition_once(app, clock):
    """Every instance (or the Functions timer) may run the sweep: two at the same moment split
    the due petitions between them, with no failure and nothing done twice."""
    with app.app_context():
        due = [launch(clock, days=1, owner_email=f"owner{n}@example.com") for n in range(6)]
        for n, petition_id in enumerate(due):
            sign(petition_id, range(1, 11 + n), clock.now + timedelta(minutes=5))
    clock.advance(days=1, seconds=1)
    start = threading.Barrier(2)
    outcomes = []

    def sweep():
        with app.app_context():
            start.wait()
            outcomes.append(services(clock).close_coordinator().close_due())
            db.session.remove()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [failed for _, failed in outcomes] == [[], []]
    assert sorted(r.petition_id for results, _ in outcomes for r in results if not r.already_closed) == due
    with app.app_context():
        for n, petition_id in enumerate(due):
            petition = db.session.get(Petition, petition_id)
            assert (petition.state, petition.signature_count) == ("closed", 10 + n)
            assert db.session.get(Report, petition_id).final_count == 10 + n
        assert len(db.session.scalars(select(Notification)).all()) == len(due)
