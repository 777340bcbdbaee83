"""Moderators removing fraudulent signatures, through the real forms on the real PostgreSQL and
Redis: the fraud signals they go by, preview and removal, Redis and SQL agreeing under concurrent
signing and after a crash between the two, and removed signers refused."""
import re
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.domain.errors import SignatureRemoved, StoreUnavailable
from app.domain.petitions import utcnow
from app.repositories import redis_keys as keys
from app.repositories.models import ModerationAction, Signature, SignatureInvalidation
from app.repositories.petitions_sql import SignatureRepository
from app.services.closing import ClosingService
from app.web import wiring
from app.web.extensions import db
from tests.helpers import post_form, sign
from tests.integration.support import Moderator, close_now, login_as, make_open, make_user, petition_row

ERROR_RE = re.compile(r'class="error-message"[^>]*>([^<]*)<')
REASON = "A burst of sign-ups from one throwaway domain."


@pytest.fixture
def petition(app, owner):
    return make_open(app, owner, "Keep the night buses running")


def text(response):
    return response.get_data(as_text=True)


def sign_from(app, petition_id, email, ip):
    """A user signs through the form, as a browser at `ip` would."""
    client = app.test_client()
    login_as(client, make_user(app, email))
    response = sign(client, petition_id) if ip is None else post_form(
        client, f"/petitions/{petition_id}/sign", {}, token_from=f"/petitions/{petition_id}",
        environ_base={"REMOTE_ADDR": ip})
    assert response.status_code in (302, 303), text(response)
    return client


def invalidate(client, petition_id, confirm, **fields):
    data = {"kind": "domain", "value": "", "signed_from": "", "signed_to": "", "reason": "", **fields}
    data["confirm" if confirm else "preview"] = "y"
    return post_form(client, f"/moderation/petitions/{petition_id}/invalidations", data,
                     token_from=f"/moderation/petitions/{petition_id}")


def valid_in_sql(app, petition_id):
    with app.app_context():
        wiring.persister(consumer="t").drain()
        return set(db.session.scalars(select(Signature.user_id).where(
            Signature.petition_id == petition_id, Signature.invalidation_id.is_(None))))


def in_redis(app, petition_id):
    return {int(m) for m in app.extensions["redis"].smembers(keys.signers(petition_id))}


def test_signals_preview_and_removal_by_domain_change_the_count_everywhere(app, petition, mod_client):
    for n in range(3):
        sign_from(app, petition, f"bot{n}@spam.example", "198.51.100.7")
    kept = sign_from(app, petition, "real@example.com", "203.0.113.5")

    page = text(mod_client.get(f"/moderation/petitions/{petition}"))
    assert "4 new signatures in the last 60 minutes" in page
    assert "<code>198.51.100.0/24</code></td><td>3<" in page and "<code>spam.example</code></td><td>3<" in page

    preview = invalidate(mod_client, petition, confirm=False, value="@Spam.Example")
    assert preview.status_code == 200
    assert "3 valid signatures match right now." in text(preview) and 'name="confirm"' in text(preview)
    assert petition_row(app, petition)["removed_signatures"] == 0  # a preview changes nothing

    no_reason = invalidate(mod_client, petition, confirm=True, value="spam.example")
    assert no_reason.status_code == 400 and "Say why" in ERROR_RE.search(text(no_reason)).group(1)

    done = invalidate(mod_client, petition, confirm=True, value="spam.example", reason=REASON)
    assert done.status_code == 303
    page = text(mod_client.get(f"/moderation/petitions/{petition}"))
    assert "3 signatures removed" in page and REASON in page

    assert petition_row(app, petition)["removed_signatures"] == 3
    assert len(in_redis(app, petition)) == len(valid_in_sql(app, petition)) == 1
    api = app.test_client().get(f"/api/petitions/{petition}").get_json()
    assert (api["signature_count"], api["removed_signatures"]) == (1, 3)
    assert "removed 3 signatures" in text(kept.get(f"/petitions/{petition}"))
    with app.app_context():
        [row] = db.session.scalars(select(SignatureInvalidation)).all()
        assert (row.kind, row.value, row.removed_count, row.moderator_name) == ("domain", "spam.example", 3, "Mo Moderator")
        assert row.applied_at is not None
        marked = db.session.scalar(select(func.count()).select_from(Signature).where(Signature.invalidation_id == row.id))
        assert marked == 3  # kept, marked with the invalidation that removed them
        assert db.session.scalar(select(ModerationAction.action).where(ModerationAction.petition_id == petition)) == "invalidate_signatures"


def test_a_removed_signer_is_refused_on_the_form_and_the_signing_endpoint(app, petition, mod_client):
    client = sign_from(app, petition, "bot@spam.example", None)
    assert invalidate(mod_client, petition, confirm=True, kind="user", value="BOT@spam.example", reason=REASON).status_code == 303
    assert "user <code>bot@spam.example</code>" in text(mod_client.get(f"/moderation/petitions/{petition}"))
    again = sign(client, petition)
    assert again.status_code == 403 and "removed" in text(again)
    token = re.search(r'data-sign-token="([^"]+)"', text(client.get(f"/petitions/{petition}")))
    if token:  # the page offers the endpoint too
        answer = app.test_client().post(f"/api/petitions/{petition}/signatures",
                                        headers={"Authorization": f"Bearer {token.group(1)}"})
        assert answer.status_code == 403 and answer.get_json()["error"]["code"] == "signature_removed"
    with app.app_context():
        with pytest.raises(SignatureRemoved):
            user_id = next(iter(app.extensions["redis"].smembers(keys.removed_signers(petition))))
            wiring.signing().sign(petition, int(user_id))
    assert in_redis(app, petition) == set() and petition_row(app, petition)["removed_signatures"] == 1


@pytest.mark.parametrize("fields, field_text", [
    ({"kind": "ip_prefix", "value": "198.51.100.7"}, "needs both ends of the time window"),
    ({"kind": "ip_prefix", "value": "198.51.100.0/16", "signed_from": "2026-06-01T10:00", "signed_to": "2026-06-01T11:00"}, "/24 block"),
    ({"kind": "domain", "value": "not a domain"}, "such as example.com"),
    ({"kind": "user", "value": "nobody@example.com"}, "No account has that email address."),
    ({"kind": "everything", "value": "x"}, "Not a valid choice."),
    ({"kind": "domain", "value": "spam.example", "signed_from": "2026-06-01T11:00", "signed_to": "2026-06-01T10:00"}, "must end after it starts"),
    ({"kind": "domain", "value": "spam.example", "signed_from": "yesterday"}, "Not a valid datetime value."),
])
def test_bad_criteria_get_a_field_message_and_change_nothing(app, petition, mod_client, fields, field_text):
    sign_from(app, petition, "bot@spam.example", None)
    response = invalidate(mod_client, petition, confirm=True, reason=REASON, **fields)
    assert response.status_code == 400
    assert field_text in text(response)
    assert petition_row(app, petition)["removed_signatures"] == 0 and len(in_redis(app, petition)) == 1


def test_an_ip_prefix_is_removed_only_within_its_window(app, petition, mod_client):
    sign_from(app, petition, "early@example.com", "198.51.100.7")
    with app.app_context():
        db.session.execute(Signature.__table__.update().values(signed_at=Signature.signed_at - timedelta(hours=2)))
        wiring.persister(consumer="t").drain()
        db.session.execute(Signature.__table__.update().values(signed_at=Signature.signed_at - timedelta(hours=2)))
        db.session.commit()
        now = utcnow()
    sign_from(app, petition, "late@example.com", "198.51.100.99")
    window = {"signed_from": (now - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M"),
              "signed_to": (now + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M")}
    response = invalidate(mod_client, petition, confirm=True, kind="ip_prefix", value="198.51.100.0/24", reason=REASON, **window)
    assert response.status_code == 303
    assert in_redis(app, petition) == valid_in_sql(app, petition)
    assert len(in_redis(app, petition)) == 1 and petition_row(app, petition)["removed_signatures"] == 1


def test_invalidation_under_concurrent_signing_leaves_redis_and_sql_equal(app, petition):
    """Signers from the suspect domain keep arriving while a moderator removes that domain."""
    start, errors = threading.Barrier(5), []

    def signer(ids):
        with app.app_context():
            signing = wiring.signing()
            start.wait()
            for uid in ids:
                try:
                    signing.sign(petition, uid, f"198.51.{uid % 250}.7", f"u{uid}@spam.example")
                except SignatureRemoved:
                    pass
                except Exception as error:  # noqa: BLE001  (any other failure fails the test)
                    errors.append(error)

    user_ids = list(range(5000, 5800))
    threads = [threading.Thread(target=signer, args=(user_ids[n::4],)) for n in range(4)]
    for thread in threads:
        thread.start()
    start.wait()
    with app.app_context():
        service = wiring.invalidations()
        first = service.invalidate(petition, Moderator, service.criterion("domain", "spam.example"), REASON)
        second = service.invalidate(petition, Moderator, service.criterion("domain", "spam.example"), REASON)
        removed = first.removed_count + second.removed_count
    for thread in threads:
        thread.join(60)
    assert errors == []
    redis_signers, sql_valid = in_redis(app, petition), valid_in_sql(app, petition)
    assert redis_signers == sql_valid
    assert removed > 0 and len(sql_valid) + removed <= len(user_ids)
    assert petition_row(app, petition)["removed_signatures"] == removed
    assert app.extensions["redis"].scard(keys.removed_signers(petition)) == removed
    with app.app_context():  # signatures over time leave the removed out too
        assert wiring.history().history(petition)["signature_count"] == len(sql_valid)


def test_a_close_during_a_removal_counts_without_the_removed_signatures(app, petition, monkeypatch):
    """The removal has marked its rows but not committed when the close starts counting: the
    close waits for it (the petition's row lock) instead of counting the rows about to go."""
    for n in range(3):
        sign_from(app, petition, f"bot{n}@spam.example", None)
    for n in range(2):
        sign_from(app, petition, f"person{n}@example.org", None)
    marked, errors = threading.Event(), []
    real_mark = SignatureRepository.mark_removed

    def slow_mark(self, invalidation, criterion):
        removed = real_mark(self, invalidation, criterion)
        marked.set()
        time.sleep(0.5)  # the close runs now, before this transaction commits
        return removed

    monkeypatch.setattr(SignatureRepository, "mark_removed", slow_mark)
    # The close's copy of Redis-only signers would also wait on the marked rows (its inserts hit
    # them); without signers to copy it need not run, and the row lock alone must do the waiting.
    monkeypatch.setattr(ClosingService, "_reconcile", lambda self, petition_id, signed_at: 0)

    def remove():
        try:
            with app.app_context():
                service = wiring.invalidations()
                service.invalidate(petition, Moderator, service.criterion("domain", "spam.example"), REASON)
        except Exception as error:  # reported below
            errors.append(error)

    remover = threading.Thread(target=remove)
    remover.start()
    assert marked.wait(10)
    with app.app_context():
        wiring.close_coordinator().finish(petition)
    remover.join(10)
    assert errors == []
    row = petition_row(app, petition)
    assert (row["state"], row["signature_count"], row["removed_signatures"]) == ("closed", 2, 3)


def test_a_crash_between_sql_and_redis_is_carried_out_by_the_next_sweep(app, petition, monkeypatch):
    for n in range(3):
        sign_from(app, petition, f"bot{n}@spam.example", None)
    store = app.extensions["open_store"]

    def crash(*args, **kwargs):
        raise StoreUnavailable("Redis went away")

    with app.app_context():
        monkeypatch.setattr(store, "invalidate", crash)  # the process dies after SQL's commit
        service = wiring.invalidations()
        with pytest.raises(StoreUnavailable):
            service.invalidate(petition, Moderator, service.criterion("domain", "spam.example"), REASON)
        monkeypatch.undo()
    assert len(in_redis(app, petition)) == 3 and valid_in_sql(app, petition) == set()  # SQL ahead
    with app.app_context():
        [pending] = db.session.scalars(select(SignatureInvalidation)).all()
        assert pending.applied_at is None
        wiring.services().sweep(utcnow())
        assert wiring.invalidations().apply_pending() == 0
    assert in_redis(app, petition) == set() == valid_in_sql(app, petition)
    assert app.test_client().get(f"/api/petitions/{petition}").get_json()["signature_count"] == 0


def test_a_closed_petitions_count_is_final(app, petition, mod_client):
    sign_from(app, petition, "bot@spam.example", None)
    close_now(app, petition, utcnow(), 1)
    response = invalidate(mod_client, petition, confirm=True, value="spam.example", reason=REASON)
    assert response.status_code == 303
    assert "count is final" in text(mod_client.get(f"/moderation/petitions/{petition}"))
    assert petition_row(app, petition)["removed_signatures"] == 0
