"""SignatureRepository.insert_ignoring_duplicates: one statement a batch on PostgreSQL, which
also counts the hours; the same results on SQLite and on the portable path; replays harmless
everywhere."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, event, func, select
from sqlalchemy.orm import Session

from app.web.extensions import db
from app.repositories.models import METADATA_BY_BIND, Signature, SignatureHour
from app.domain.petitions import as_utc
from app.repositories.petitions_sql import SignatureRepository
from tests.integration.support import make_open, make_user

NOW = datetime(2026, 6, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)


@pytest.fixture
def petitions(app):
    owner = make_user(app, "owner@example.com")
    ids = make_open(app, owner, "First petition title"), make_open(app, owner, "Second petition title")
    with app.app_context():
        yield ids


@pytest.fixture
def sqlite_session():
    engine = create_engine("sqlite://")
    METADATA_BY_BIND[None].create_all(engine)
    with Session(engine) as session:
        yield session
    engine.dispose()


def row(petition_id, user_id, signed_at=NOW):
    return {"petition_id": petition_id, "user_id": user_id, "signed_at": signed_at}


def stored(session):
    session.rollback()  # see what was committed, nothing else
    return sorted(session.execute(select(Signature.petition_id, Signature.user_id, Signature.signed_at)).all())


def hour_counts(session):
    """{petition_id: signatures} summed over signature_hours."""
    return dict(session.execute(
        select(SignatureHour.petition_id, func.sum(SignatureHour.signatures)).group_by(SignatureHour.petition_id)
    ).all())


class StatementLog:
    """Every statement the petitions engine sends while active."""

    def __init__(self, engine):
        self.engine, self.statements = engine, []

    def _record(self, conn, cursor, statement, *args):
        self.statements.append(statement)

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self.statements

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._record)


def test_a_postgresql_batch_is_one_statement_and_counts_only_new_rows(petitions):
    first, second = petitions
    repo = SignatureRepository(db.session)
    assert repo.insert_ignoring_duplicates([row(first, 1), row(first, 2)]) == 2
    db.session.commit()
    batch = [row(first, 2), row(first, 3), row(second, 2), row(first, 3)]  # one stored, one repeated
    with StatementLog(db.engine) as statements:
        assert repo.insert_ignoring_duplicates(batch) == 2
    db.session.commit()
    # The insert counts the new rows' hours in the same statement.
    assert len(statements) == 1 and "unnest" in statements[0] and "INSERT INTO signature_hours" in statements[0]
    assert [(p, u) for p, u, _ in stored(db.session)] == [(first, 1), (first, 2), (first, 3), (second, 2)]
    assert hour_counts(db.session) == {first: 3, second: 1}


def test_replaying_a_whole_batch_adds_nothing(petitions):
    first, _ = petitions
    repo = SignatureRepository(db.session)
    batch = [row(first, u) for u in range(1, 501)]
    assert repo.insert_ignoring_duplicates(batch) == 500
    db.session.commit()
    assert repo.insert_ignoring_duplicates(batch) == 0
    db.session.commit()
    assert hour_counts(db.session) == {first: 500}  # a replay counts nothing twice
    assert len(stored(db.session)) == 500


def test_an_empty_batch_sends_nothing(petitions):
    with StatementLog(db.engine) as statements:
        assert SignatureRepository(db.session).insert_ignoring_duplicates([]) == 0
    assert statements == []


def test_signing_times_keep_microseconds_and_the_instant(petitions):
    first, _ = petitions
    elsewhere = timezone(timedelta(hours=5, minutes=30))
    SignatureRepository(db.session).insert_ignoring_duplicates(
        [row(first, 1), row(first, 2, NOW.astimezone(elsewhere))]
    )
    db.session.commit()
    assert [signed_at for _, _, signed_at in stored(db.session)] == [NOW, NOW]
    # Both are in the 12:00 UTC hour, whatever offset the time came with.
    hours = db.session.execute(select(SignatureHour.hour, SignatureHour.signatures)).all()
    assert hours == [(NOW.replace(minute=0, second=0, microsecond=0), 2)]


def test_a_batch_with_an_unknown_petition_inserts_nothing(petitions):
    first, _ = petitions
    with pytest.raises(Exception):
        SignatureRepository(db.session).insert_ignoring_duplicates([row(first, 1), row(999_999, 1)])
    assert stored(db.session) == []


def test_sqlite_skips_stored_and_repeated_pairs(sqlite_session):
    repo = SignatureRepository(sqlite_session)
    assert repo.insert_ignoring_duplicates([row(1, 1), row(1, 1), row(1, 2)]) == 2
    sqlite_session.commit()
    assert repo.insert_ignoring_duplicates([row(1, 2), row(2, 1)]) == 1
    sqlite_session.commit()
    assert [(p, u) for p, u, _ in stored(sqlite_session)] == [(1, 1), (1, 2), (2, 1)]
    assert hour_counts(sqlite_session) == {1: 2, 2: 1}


def test_each_hour_counts_its_own_signatures_on_every_path(petitions, sqlite_session):
    first, _ = petitions
    later = NOW + timedelta(hours=1, minutes=59)  # 13:59, the next hour
    batch = [row(first, 1), row(first, 2, later), row(first, 3, later)]
    for session in (db.session, sqlite_session):
        SignatureRepository(session).insert_ignoring_duplicates(batch)
        session.commit()
        hours = sorted((as_utc(h), n) for h, n in session.execute(select(SignatureHour.hour, SignatureHour.signatures)))
        assert [(h.hour, n) for h, n in hours] == [(12, 1), (13, 2)]
