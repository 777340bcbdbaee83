"""Signatures over time on the real PostgreSQL and Redis: the hours kept by the persisters under
concurrent signing, the history API (JSON and CSV, by hour and by day, from/to, milestones), the
daily export, the chart on the petition page, and bad input."""
import csv
import importlib.util
import io
import itertools
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode

import pytest
from sqlalchemy import select, text

from app.repositories.models import Signature, SignatureHour
from app.web import wiring
from app.web.extensions import db
from tests.integration.support import Moderator, make_draft, make_open

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations" / "versions"
NOW = datetime.now(timezone.utc)
# At :40, 5 h 20 min to 6 h 20 min ago: seven hours from the launch hour to the current one.
LAUNCHED = NOW.replace(minute=40, second=0, microsecond=0) - timedelta(hours=6)


@pytest.fixture
def petition(app, owner):
    return make_open(app, owner, "Keep the night buses running", launched_at=LAUNCHED)


def sign_at(app, petition_id, user_ids, moments):
    """Signs each user at the matching moment, through the signing service and Redis."""
    with app.app_context():
        signing = wiring.signing()
        for uid, moment in zip(user_ids, moments):
            signing.clock = lambda moment=moment: moment
            signing.sign(petition_id, uid, f"198.51.{uid % 250}.{uid // 250}")


def persist(app):
    with app.app_context():
        wiring.persister(consumer="test").drain()


def stored_times(app, petition_id):
    with app.app_context():
        return [t.astimezone(timezone.utc) for t in db.session.scalars(
            select(Signature.signed_at).where(Signature.petition_id == petition_id, Signature.invalidation_id.is_(None)))]


def api(client, path):
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def test_history_equals_the_count_at_every_hour_boundary_under_concurrent_signing(app, petition):
    """Four signers and two persisters at once, signatures spread over five hours: at every hour
    boundary the history's running total is the number of signatures made before it, and the
    last total is the petition's count in Redis and in SQL."""
    ticks, tick_lock = itertools.count(), threading.Lock()
    first_signature = LAUNCHED + timedelta(minutes=25)

    def next_moment():
        with tick_lock:  # 1,200 signatures 15 s apart: five hours, crossing each boundary
            return first_signature + timedelta(seconds=15 * next(ticks))

    signing_done, errors = threading.Event(), []

    def signer(user_ids):
        try:
            with app.app_context():
                signing = wiring.signing()
                signing.clock = next_moment
                for uid in user_ids:  # from many addresses, as people are: no rate limit trips
                    signing.sign(petition, uid, f"198.51.{uid % 250}.{uid // 250}")
        except Exception as error:  # noqa: BLE001  (any failure fails the test)
            errors.append(error)

    def persister(name):
        try:
            with app.app_context():
                worker = wiring.persister(consumer=name)
                worker.batch_size = 37  # many small batches, so the two interleave
                while not signing_done.is_set():
                    worker.run_batch(block_ms=20)
                worker.drain()
        except Exception as error:  # noqa: BLE001
            errors.append(error)

    user_ids = list(range(1, 1201))
    signers = [threading.Thread(target=signer, args=(user_ids[n::4],)) for n in range(4)]
    persisters = [threading.Thread(target=persister, args=(name,)) for name in ("p1", "p2")]
    for thread in signers + persisters:
        thread.start()
    for thread in signers:
        thread.join(120)
    signing_done.set()
    for thread in persisters:
        thread.join(60)
    assert errors == []

    series = api(app.test_client(), f"/api/petitions/{petition}/history").json
    times = stored_times(app, petition)
    totals = {datetime.fromisoformat(p["start"]): p["total"] for p in series["data"]}
    boundaries = sorted(totals)
    assert len(boundaries) == 7  # the launch hour to the current one
    for start in boundaries:
        # The total at the end of the hour that starts at `start`, i.e. before the next boundary.
        assert totals[start] == sum(1 for t in times if t < start + timedelta(hours=1)), start
    assert series["signature_count"] == series["data"][-1]["total"] == 1200
    with app.app_context():
        assert wiring.browsing().count(petition) == 1200
    assert len(times) == 1200


def test_json_and_csv_by_hour_and_by_day_with_from_and_to(app, petition):
    base = LAUNCHED.replace(minute=0)
    moments = [base + timedelta(minutes=50)] * 2 + [base + timedelta(hours=2, minutes=5)] * 3
    sign_at(app, petition, range(10, 15), moments)
    persist(app)
    client = app.test_client()

    by_hour = api(client, f"/api/petitions/{petition}/history").json
    assert by_hour["interval"] == "hour" and by_hour["state"] == "open"
    assert by_hour["from"] == base.isoformat()
    assert [(p["signatures"], p["total"]) for p in by_hour["data"][:4]] == [(2, 2), (0, 2), (3, 5), (0, 5)]
    assert all(p["signatures"] == 0 for p in by_hour["data"][3:])

    window = api(client, f"/api/petitions/{petition}/history?" + urlencode(
        {"from": (base + timedelta(hours=1)).isoformat(), "to": f"{base + timedelta(hours=3):%Y-%m-%dT%H:%MZ}"})).json
    # The running total counts what came before the window; `to` is exclusive.
    assert [(p["start"], p["signatures"], p["total"]) for p in window["data"]] == [
        ((base + timedelta(hours=1)).isoformat(), 0, 2), ((base + timedelta(hours=2)).isoformat(), 3, 5)]

    by_day = api(client, f"/api/petitions/{petition}/history?interval=day").json
    assert sum(p["signatures"] for p in by_day["data"]) == 5 and by_day["data"][-1]["total"] == 5
    assert all(p["start"].endswith("T00:00:00+00:00") for p in by_day["data"])

    response = api(client, f"/api/petitions/{petition}/history.csv?to={base + timedelta(hours=3):%Y-%m-%dT%H:%MZ}")
    assert response.mimetype == "text/csv" and f"petition-{petition}-hours.csv" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["start", "signatures", "total"]
    assert [r[1:] for r in rows[1:]] == [["2", "2"], ["0", "2"], ["3", "5"]]
    assert response.headers["Cache-Control"] == "public, max-age=60" and response.headers["ETag"]
    assert client.get(response.request.url, headers={"If-None-Match": response.headers["ETag"]}).status_code == 304


def test_milestones_say_in_which_hour_each_was_reached(app, petition):
    base = LAUNCHED.replace(minute=0)
    sign_at(app, petition, range(1, 61), [base + timedelta(minutes=45)] * 60)
    sign_at(app, petition, range(61, 131), [base + timedelta(hours=3, minutes=1)] * 70)
    persist(app)
    history = api(app.test_client(), f"/api/petitions/{petition}/history?interval=day").json
    assert history["milestones"] == [{"signatures": 100, "hour": (base + timedelta(hours=3)).isoformat()}]


def test_removed_signatures_leave_their_hours_and_a_close_keeps_the_history(app, petition):
    base = LAUNCHED.replace(minute=0)
    sign_at(app, petition, range(1, 4), [base + timedelta(minutes=50)] * 3)
    with app.app_context():
        signing = wiring.signing()
        for uid in (4, 5):
            signing.clock = lambda: base + timedelta(hours=1, minutes=10)
            signing.sign(petition, uid, "203.0.113.9", f"u{uid}@spam.example")
    persist(app)
    with app.app_context():
        service = wiring.invalidations()
        service.invalidate(petition, Moderator, service.criterion("domain", "spam.example"), "Throwaway sign-ups.")
        wiring.close_coordinator().finish(petition)
    history = api(app.test_client(), f"/api/petitions/{petition}/history").json
    assert history["state"] == "closed" and history["signature_count"] == 3
    assert [p["signatures"] for p in history["data"][:2]] == [3, 0]
    assert history["data"][-1]["total"] == 3
    response = app.test_client().get(f"/api/petitions/{petition}/history")
    assert response.headers["Cache-Control"] == "public, max-age=3600"


def test_the_daily_export_lists_every_petition_signed_by_the_end_of_the_day(app, owner, petition):
    other = make_open(app, owner, "Light the canal towpath at night", launched_at=LAUNCHED)
    yesterday = LAUNCHED - timedelta(days=1)
    with app.app_context():  # a signature from the day before, as a moved clock would make it
        db.session.add(SignatureHour(petition_id=other, hour=yesterday.replace(minute=0), signatures=4))
        db.session.commit()
    sign_at(app, petition, range(1, 3), [LAUNCHED + timedelta(minutes=5)] * 2)
    persist(app)
    client = app.test_client()
    day = LAUNCHED.date().isoformat()
    export = api(client, f"/api/exports/daily/{day}.json").json
    assert export["date"] == day
    rows = {row["petition_id"]: row for row in export["data"]}
    assert rows[petition] == {"petition_id": petition, "title": "Keep the night buses running", "state": "open",
                              "signatures": 2, "total": 2}
    assert rows[other]["signatures"] == 0 and rows[other]["total"] == 4
    earlier = api(client, f"/api/exports/daily/{yesterday.date().isoformat()}.json").json
    assert [row["petition_id"] for row in earlier["data"]] == [other]
    response = api(client, f"/api/exports/daily/{yesterday.date().isoformat()}.csv")
    assert response.get_data(as_text=True).splitlines() == [
        "petition_id,title,state,signatures,total", f"{other},Light the canal towpath at night,open,4,4"]
    assert response.headers["Cache-Control"] == "public, max-age=86400"


def test_the_open_petition_page_charts_its_hours_without_javascript(app, petition):
    base = LAUNCHED.replace(minute=0)
    sign_at(app, petition, range(1, 4), [base + timedelta(minutes=50)] * 3)
    persist(app)
    page = app.test_client().get(f"/petitions/{petition}").get_data(as_text=True)
    assert 'aria-labelledby="history-heading"' in page
    assert page.count('class="chart-bar"') == 7  # one bar an hour, launch hour to now
    assert '<title id="history-chart-title">Signatures per hour' in page and "peak 3 in an hour" in page
    assert f"{base:%Y-%m-%d %H:00}: 3 signatures" in page
    assert "<th scope=\"col\">Hour starting (UTC)</th>" in page
    assert f'href="/api/petitions/{petition}/history.csv"' in page


def test_a_petition_page_still_shows_when_its_history_cannot_be_read(app, petition, monkeypatch):
    from sqlalchemy.exc import OperationalError

    def broken(self, petition_id):
        raise OperationalError("SELECT", {}, Exception("connection refused"))

    monkeypatch.setattr("app.services.history.HistoryService.chart_series", broken)
    response = app.test_client().get(f"/petitions/{petition}")
    assert response.status_code == 200 and "Signatures over time" not in response.get_data(as_text=True)


@pytest.mark.parametrize("query, message", [
    ("interval=week", "interval must be hour or day."),
    ("from=yesterday", "from must be an ISO 8601 date or time"),
    ("to=2026-13-01", "to must be an ISO 8601 date or time"),
    ("from=2026-03-02&to=2026-03-01", "from must be before to."),
    ("from=" + "1" * 41, "from must be an ISO 8601"),
])
def test_bad_history_queries_get_a_400_with_a_json_message(app, petition, query, message):
    for suffix in ("", ".csv"):
        response = app.test_client().get(f"/api/petitions/{petition}/history{suffix}?{query}")
        assert response.status_code == 400 and response.json["error"]["message"].startswith(message)


def test_drafts_unknown_petitions_and_bad_days_get_json_errors(app, owner):
    draft = make_draft(app, owner)
    client = app.test_client()
    for path in (f"/api/petitions/{draft}/history", "/api/petitions/999999/history.csv"):
        response = client.get(path)
        assert response.status_code == 404 and response.json["error"]["code"] == "not_found"
    tomorrow = (NOW + timedelta(days=1)).date().isoformat()
    for day, message in (("2026-02-30", "The day must be a date"), ("20260301", "The day must be a date"),
                         (tomorrow, "That day has not begun yet")):
        response = client.get(f"/api/exports/daily/{day}.csv")
        assert response.status_code == 400 and response.json["error"]["message"].startswith(message)


def test_the_migrations_backfill_counts_the_same_hours_as_the_persister(app, petition):
    """0008 fills signature_hours from the signatures already stored; on PostgreSQL its query
    must put each signature in the hour the persister does."""
    spec = importlib.util.spec_from_file_location("migration_0008", MIGRATIONS / "0008_signature_hours.py")
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    base = LAUNCHED.replace(minute=0)
    sign_at(app, petition, range(1, 6), [base + timedelta(minutes=m) for m in (1, 59, 60, 61, 185)])
    persist(app)
    with app.app_context():
        hour = migration.HOUR_OF_SIGNED_AT["postgresql"]
        backfilled = db.session.execute(text(
            f"SELECT {hour} AS hour, count(*) FROM signatures WHERE petition_id = :p GROUP BY 1 ORDER BY 1"),
            {"p": petition}).all()
        kept = db.session.execute(select(SignatureHour.hour, SignatureHour.signatures)
                                  .where(SignatureHour.petition_id == petition).order_by(SignatureHour.hour)).all()
    assert [(h.astimezone(timezone.utc), n) for h, n in backfilled] == [(h.astimezone(timezone.utc), n) for h, n in kept]
    assert [n for _, n in kept] == [2, 2, 1]
