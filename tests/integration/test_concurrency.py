"""Races through the real stack: two launches of one draft, fifty people signing at once."""
import re
import threading

from sqlalchemy import func, select

from app.web import wiring
from app.domain.errors import InvalidTransition
from app.web.extensions import db
from app.repositories import redis_keys as keys
from app.repositories.models import Signature, User
from app.repositories.petitions_sql import PetitionRepository
from app.services.petitions import PetitionService
from tests.helpers import launch
from tests.integration.support import login_as, make_draft, make_open, make_user, petition_row

TOKEN_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def run_together(workers, timeout=60):
    """Starts every worker at the same moment and waits for all of them."""
    start = threading.Barrier(len(workers))
    results, errors = [None] * len(workers), []

    def run(index, work):
        try:
            start.wait()
            results[index] = work()
        except Exception as error:  # reported below, with the others
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i, w)) for i, w in enumerate(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(t.is_alive() for t in threads), "a worker hung"
    return results, errors


class RacingRepository(PetitionRepository):
    """Holds each launch at the UPDATE until both have passed the state check, so the
    conditional UPDATE alone has to decide the winner."""

    def __init__(self, session, gate):
        super().__init__(session)
        self.gate = gate

    def update_draft(self, *args, **values):
        if "launched_at" in values:
            self.gate.wait(timeout=10)
        return super().update_draft(*args, **values)


def test_two_racing_launches_have_exactly_one_winner(app, redis_client):
    owner = make_user(app, "owner@example.com")
    petition_id = make_draft(app, owner)
    gate = threading.Barrier(2)

    def launch_once():
        with app.app_context():
            try:
                service = PetitionService(db.session, RacingRepository(db.session, gate), wiring.open_store())
                return service.launch(petition_id, owner["id"]).launched_at
            except InvalidTransition as refused:
                return refused
            finally:
                db.session.remove()

    results, errors = run_together([launch_once, launch_once])
    assert errors == []
    refused = [r for r in results if isinstance(r, InvalidTransition)]
    won = [r for r in results if not isinstance(r, InvalidTransition)]
    assert len(won) == 1 and len(refused) == 1
    assert refused[0].status == 409 and "already been launched" in refused[0].message
    row = petition_row(app, petition_id)
    assert row["state"] == "open" and row["launched_at"] == won[0]
    assert redis_client.zscore(keys.OPEN_BY_NEWEST, petition_id) == won[0].timestamp()


def test_two_racing_launch_requests_get_one_redirect_and_one_409(app):
    owner = make_user(app, "owner@example.com")
    petition_id = make_draft(app, owner)
    clients = [app.test_client(), app.test_client()]
    for client in clients:
        login_as(client, owner)
        client.get(f"/petitions/{petition_id}")  # CSRF token into the session
    results, errors = run_together([lambda c=c: launch(c, petition_id).status_code for c in clients])
    assert errors == []
    assert sorted(results) == [302, 409]


def test_fifty_people_signing_at_once_with_duplicates_count_exactly_fifty(app, redis_client):
    owner = make_user(app, "owner@example.com")
    petition_id = make_open(app, owner)
    signers = [make_user(app, f"signer{n}@example.com") for n in range(50)]

    def signed_in_client(user):
        client = app.test_client()
        login_as(client, user)
        page = client.get(f"/petitions/{petition_id}").get_data(as_text=True)
        return client, TOKEN_RE.search(page).group(1)

    # Every signer once; every fifth signer also from a second tab at the same moment, and
    # again from the first tab afterwards.
    tabs = [(user, *signed_in_client(user)) for user in signers]
    tabs += [(user, *signed_in_client(user)) for user in signers[::5]]

    def sign_in(client, token, times):
        return [client.post(f"/petitions/{petition_id}/sign", data={"csrf_token": token}).status_code for _ in range(times)]

    workers = [
        lambda c=client, t=token, n=(2 if index % 5 == 0 and index < 50 else 1): sign_in(c, t, n)
        for index, (_, client, token) in enumerate(tabs)
    ]
    results, errors = run_together(workers)
    assert errors == []
    statuses = [status for result in results for status in result]
    assert len(statuses) == 50 + 10 + 10
    assert set(statuses) == {303}

    api_count = app.test_client().get(f"/api/petitions/{petition_id}/count").get_json()["signature_count"]
    assert api_count == 50
    assert redis_client.scard(keys.signers(petition_id)) == 50
    assert redis_client.zscore(keys.OPEN_BY_SIGNATURES, petition_id) == 50
    assert redis_client.xlen(keys.OUTBOX) == 50  # duplicates never reached the outbox
    with app.app_context():
        assert wiring.persister(consumer="test").drain() == 50
        stored = db.session.scalar(
            select(func.count(func.distinct(Signature.user_id))).where(Signature.petition_id == petition_id)
        )
        rows = db.session.scalar(select(func.count()).select_from(Signature))
    assert stored == rows == 50
    assert {int(u) for u in redis_client.smembers(keys.signers(petition_id))} == {u["id"] for u in signers}


def test_two_racing_registrations_of_one_email_create_one_account(app):
    clients = [app.test_client(), app.test_client()]
    tokens = [TOKEN_RE.search(c.get("/auth/register").get_data(as_text=True)).group(1) for c in clients]

    def register_as(client, token, name):
        return client.post(
            "/auth/register",
            data={"csrf_token": token, "email": "same@example.com", "display_name": name, "password": "correct horse battery"},
        ).status_code

    results, errors = run_together(
        [lambda: register_as(clients[0], tokens[0], "First"), lambda: register_as(clients[1], tokens[1], "Second")]
    )
    assert errors == []
    assert sorted(results) == [302, 400]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 1
