"""Petitions and signatures in SQL. Queries stay portable (SQLite, PostgreSQL, SQL Server)."""
from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from app.domain.petitions import PetitionState
from app.repositories.history_sql import SignatureHourRepository, per_hour
from app.repositories.models import Notification, Petition, PetitionResponse, Signature, SignatureInvalidation


# `%b`: psycopg sends the arrays in binary, so no element is formatted or parsed as text. One
# statement inserts the batch, adds the new rows to their hours and answers how many were new:
# only rows the insert returned are counted, so a replayed entry counts nothing twice.
_PG_UNNEST_INSERT = (
    "WITH added AS ("
    " INSERT INTO signatures"
    " (petition_id, user_id, signed_at, ip_prefix, email_domain, notify_response, notify_close)"
    " SELECT * FROM unnest(%b::integer[], %b::integer[], %b::timestamptz[], %b::text[], %b::text[],"
    " %b::boolean[], %b::boolean[])"
    " ON CONFLICT (petition_id, user_id) DO NOTHING"
    " RETURNING petition_id, signed_at),"
    " hours AS ("
    " INSERT INTO signature_hours (petition_id, hour, signatures)"
    " SELECT petition_id, date_trunc('hour', signed_at, 'UTC'), count(*) FROM added"
    " GROUP BY 1, 2 ORDER BY 1, 2"  # in key order: two persisters lock the hours alike
    " ON CONFLICT (petition_id, hour) DO UPDATE SET signatures = signature_hours.signatures + excluded.signatures)"
    " SELECT count(*) FROM added"
)
# What a signature row holds besides petition, user and time, when the caller does not know it
# (a signer Redis held and SQL lacked, copied at close).
SIGNATURE_DEFAULTS = {"ip_prefix": None, "email_domain": None, "notify_response": False, "notify_close": False}
SIGNATURE_FIELDS = ("petition_id", "user_id", "signed_at", *SIGNATURE_DEFAULTS)
# Signatures that count: every one the moderators have not removed.
VALID = Signature.invalidation_id.is_(None)


class PetitionRepository:
    def __init__(self, session):
        self.session = session

    def add(self, petition):
        self.session.add(petition)
        self.session.flush()
        return petition

    def add_many(self, petitions):
        """Adds many rows in one flush; the ORM sends them as batched INSERTs."""
        self.session.add_all(petitions)
        self.session.flush()
        return petitions

    def get(self, petition_id):
        return self.session.get(Petition, petition_id)

    def get_locked(self, petition_id):
        """The petition as stored now, its row locked until this transaction ends: a close and
        a moderator's removal of signatures take it first, so one waits for the other's count."""
        return self.session.scalar(
            select(Petition).where(Petition.id == petition_id).with_for_update()
            .execution_options(populate_existing=True)
        )

    def get_owned(self, petition_id, owner_id):
        return self.session.scalar(
            select(Petition).where(Petition.id == petition_id, Petition.owner_id == owner_id)
        )

    def for_owner(self, owner_id):
        return self.session.scalars(
            select(Petition).where(Petition.owner_id == owner_id).order_by(Petition.created_at.desc())
        ).all()

    def update_draft(self, petition_id, owner_id, **values):
        """One conditional UPDATE: it changes a row only while it is the owner's draft."""
        result = self.session.execute(
            update(Petition)
            .where(*_owners_draft(petition_id, owner_id))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

    def delete_draft(self, petition_id, owner_id):
        result = self.session.execute(
            delete(Petition)
            .where(*_owners_draft(petition_id, owner_id))
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

    def mark_closed(self, petition_id, closed_at, signature_count):
        result = self.session.execute(
            update(Petition)
            .where(Petition.id == petition_id, Petition.state == PetitionState.OPEN.value)
            .values(state=PetitionState.CLOSED.value, closed_at=closed_at, signature_count=signature_count)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

    def due_ids(self, now):
        """Open petitions at or past their deadline, or asked to close early."""
        return self.session.scalars(
            select(Petition.id)
            .where(
                Petition.state == PetitionState.OPEN.value,
                or_(Petition.closes_at <= now, Petition.close_requested_at.is_not(None)),
            )
            .order_by(Petition.closes_at, Petition.id)
        ).all()

    def request_close(self, petition_id, now):
        result = self.session.execute(
            update(Petition)
            .where(Petition.id == petition_id, Petition.state == PetitionState.OPEN.value)
            .values(close_requested_at=now)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

    def unfinished_closes(self):
        """Closed petitions whose close stopped before the owner was notified (the report or
        notification step failed); the sweep finishes them."""
        notified = select(Notification.id).where(Notification.petition_id == Petition.id)
        return self.session.scalars(
            select(Petition.id)
            .where(Petition.state == PetitionState.CLOSED.value, ~notified.exists())
            .order_by(Petition.id)
        ).all()

    def open_petitions(self):
        return self.session.scalars(
            select(Petition).where(Petition.state == PetitionState.OPEN.value).order_by(Petition.id)
        ).all()

    def ended(self):
        """{id: state} of the petitions that took signatures once and take none now: closed or
        taken down."""
        ended = (PetitionState.CLOSED.value, PetitionState.TAKEN_DOWN.value)
        return dict(self.session.execute(select(Petition.id, Petition.state).where(Petition.state.in_(ended))).all())

    def mark_taken_down(self, petition_id, at, reason, signature_count):
        result = self.session.execute(
            update(Petition)
            .where(Petition.id == petition_id, Petition.state == PetitionState.OPEN.value)
            .values(state=PetitionState.TAKEN_DOWN.value, taken_down_at=at, takedown_reason=reason,
                    signature_count=signature_count)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

    def mark_restored(self, petition_id):
        result = self.session.execute(
            update(Petition)
            .where(Petition.id == petition_id, Petition.state == PetitionState.TAKEN_DOWN.value)
            .values(state=PetitionState.OPEN.value, taken_down_at=None, takedown_reason=None)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

    def awaiting_response(self, open_ids, threshold):
        """Petitions with no published response that have reached `threshold`: the open ones in
        `open_ids` (counted in Redis) and closed ones by their final count."""
        responded = select(PetitionResponse.petition_id).where(PetitionResponse.petition_id == Petition.id)
        reached = Petition.state == PetitionState.CLOSED.value
        reached = reached & (Petition.signature_count >= threshold)
        if open_ids:
            reached = reached | ((Petition.state == PetitionState.OPEN.value) & Petition.id.in_(open_ids))
        return self.session.scalars(
            select(Petition).where(reached, ~responded.exists()).order_by(Petition.launched_at, Petition.id)
        ).all()

    def taken_down(self):
        return self.session.scalars(
            select(Petition).where(Petition.state == PetitionState.TAKEN_DOWN.value)
            .order_by(Petition.taken_down_at.desc())
        ).all()

    def closed_page(self, page, page_size, query=None):
        stmt = select(Petition).where(Petition.state == PetitionState.CLOSED.value)
        for word in (query or "").split():
            stmt = stmt.where(Petition.title.ilike(f"%{_escape_like(word)}%", escape="\\"))
        total = self.session.scalar(select(func.count()).select_from(stmt.subquery()))
        rows = self.session.scalars(
            stmt.order_by(Petition.closed_at.desc(), Petition.id.desc())
            .offset((page - 1) * page_size)
            .limit(page_size)
        ).all()
        return rows, total

    def counts_by_petition(self, petition_ids):
        """Rows in SQL per petition: what the persister has written so far."""
        if not petition_ids:
            return {}
        rows = self.session.execute(
            select(Signature.petition_id, func.count())
            .where(Signature.petition_id.in_(petition_ids), VALID)
            .group_by(Signature.petition_id)
        ).all()
        return dict(rows)


class SignatureRepository:
    def __init__(self, session):
        self.session = session
        self.hours = SignatureHourRepository(session)

    def insert_ignoring_duplicates(self, rows):
        """Inserts dicts of SIGNATURE_FIELDS (petition_id, user_id and signed_at required);
        rows already present are skipped, so replaying the outbox is harmless, and a removed
        signature stays removed. The new rows are added to their hours in the same transaction.
        Returns how many rows were new."""
        if not rows:
            return 0
        rows = list({(r["petition_id"], r["user_id"]): {**SIGNATURE_DEFAULTS, **r} for r in rows}.values())
        dialect = self.session.get_bind(Signature).dialect
        if (dialect.name, dialect.driver) == ("postgresql", "psycopg"):
            return self._insert_unnested(rows)
        if dialect.name == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            stmt = sqlite_insert(Signature).on_conflict_do_nothing(index_elements=["petition_id", "user_id"])
            added = self.session.execute(stmt.returning(Signature.petition_id, Signature.signed_at), rows).all()
        else:
            added = [(r["petition_id"], r["signed_at"]) for r in self._insert_missing(rows)]
        self.hours.add(per_hour(added))
        return len(added)

    def _insert_unnested(self, rows):
        """PostgreSQL through psycopg: the batch as binary arrays in one fixed statement that
        also counts the hours. A multi-row VALUES (a parameter per field per row, a new
        statement text for each batch size) cost more to build, send and parse than the insert
        itself, and returning the new rows to count their hours here cost a quarter of the
        persister's speed."""
        result = self.session.connection(bind_arguments={"mapper": Signature}).exec_driver_sql(
            _PG_UNNEST_INSERT,
            tuple([r[field] for r in rows] for field in SIGNATURE_FIELDS),
        )
        return result.scalar_one()

    def _insert_missing(self, rows):
        """Portable path (SQL Server): skip the pairs already stored, insert the rest; returns
        the rows inserted."""
        # Per petition, since SQL Server has no row-value `(a, b) IN (...)`; a batch usually
        # spans few petitions.
        users_by_petition = {}
        for r in rows:
            users_by_petition.setdefault(r["petition_id"], []).append(r["user_id"])
        existing = set()
        for petition_id, user_ids in users_by_petition.items():
            for start in range(0, len(user_ids), 500):
                existing.update(
                    self.session.execute(
                        select(Signature.petition_id, Signature.user_id).where(
                            Signature.petition_id == petition_id,
                            Signature.user_id.in_(user_ids[start : start + 500]),
                        )
                    ).all()
                )
        fresh = [r for r in rows if (r["petition_id"], r["user_id"]) not in existing]
        if fresh:
            try:
                with self.session.begin_nested():
                    self.session.execute(insert(Signature), fresh)
            except IntegrityError:
                # Another persister got there first; fall back to one row at a time.
                return self._insert_one_by_one(fresh)
        return fresh

    def _insert_one_by_one(self, rows):
        added = []
        for row in rows:
            try:
                with self.session.begin_nested():
                    self.session.execute(insert(Signature), [row])
                added.append(row)
            except IntegrityError:
                pass
        return added

    def count_for(self, petition_id):
        return self.session.scalar(
            select(func.count()).select_from(Signature).where(Signature.petition_id == petition_id, VALID)
        )

    def signed_times(self, petition_id, chunk=50_000):
        """Every signature time of one petition, oldest first, streamed."""
        return self.session.scalars(
            select(Signature.signed_at)
            .where(Signature.petition_id == petition_id, VALID)
            .order_by(Signature.signed_at, Signature.id)
            .execution_options(yield_per=chunk)
        )

    def user_ids_for(self, petition_id):
        return self.session.scalars(
            select(Signature.user_id).where(Signature.petition_id == petition_id, VALID)
        ).all()

    def signers_by_petition(self, petition_ids):
        """{petition_id: [user_id, ...]} of valid signers for the rebuild, every id present."""
        return {pid: [] for pid in petition_ids} | self._user_ids_by_petition(petition_ids, VALID)

    def _user_ids_by_petition(self, petition_ids, which):
        """{petition_id: [user_id, ...]} of the signatures `which` selects, 1,000 petitions a
        query, streamed."""
        result = {}
        for start in range(0, len(petition_ids), 1000):
            rows = self.session.execute(
                select(Signature.petition_id, Signature.user_id)
                .where(Signature.petition_id.in_(petition_ids[start : start + 1000]), which)
                .execution_options(yield_per=50_000)
            )
            for pid, uid in rows:
                result.setdefault(pid, []).append(uid)
        return result

    # -- removed by the moderators --------------------------------------------------------------
    def matching(self, petition_id, criterion):
        """Count of valid signatures of the petition an InvalidationCriterion selects."""
        return self.session.scalar(
            select(func.count()).select_from(Signature).where(*_selected(petition_id, criterion))
        )

    def mark_removed(self, invalidation, criterion):
        """Marks the valid signatures the criterion selects as removed by `invalidation`, and
        takes them out of their hours; returns how many."""
        removed = self.session.execute(
            update(Signature)
            .where(*_selected(invalidation.petition_id, criterion))
            .values(invalidation_id=invalidation.id)
            .returning(Signature.petition_id, Signature.signed_at)
            .execution_options(synchronize_session=False)
        ).all()
        self.hours.add(per_hour(removed), sign=-1)
        return len(removed)

    def removed_user_ids(self, invalidation_id):
        return self.session.scalars(select(Signature.user_id).where(Signature.invalidation_id == invalidation_id)).all()

    def removed_by_petition(self, petition_ids):
        """{petition_id: [user_id, ...]} of removed signers, for the rebuild to remove again."""
        return self._user_ids_by_petition(petition_ids, Signature.invalidation_id.is_not(None))


class InvalidationRepository:
    def __init__(self, session):
        self.session = session

    def add(self, invalidation):
        self.session.add(invalidation)
        self.session.flush()
        return invalidation

    def for_petition(self, petition_id):
        return self.session.scalars(
            select(SignatureInvalidation)
            .where(SignatureInvalidation.petition_id == petition_id)
            .order_by(SignatureInvalidation.created_at.desc(), SignatureInvalidation.id.desc())
        ).all()

    def unapplied(self):
        """Invalidations SQL holds that Redis may not have carried out yet (a crash between)."""
        return self.session.scalars(
            select(SignatureInvalidation).where(SignatureInvalidation.applied_at.is_(None)).order_by(SignatureInvalidation.id)
        ).all()


def _selected(petition_id, criterion):
    """WHERE clauses: the petition's valid signatures that match an InvalidationCriterion."""
    column = {"user": Signature.user_id, "domain": Signature.email_domain, "ip_prefix": Signature.ip_prefix}[criterion.kind]
    value = int(criterion.value) if criterion.kind == "user" else criterion.value
    clauses = [Signature.petition_id == petition_id, VALID, column == value]
    if criterion.signed_from is not None:
        clauses.append(Signature.signed_at >= criterion.signed_from)
    if criterion.signed_to is not None:
        clauses.append(Signature.signed_at < criterion.signed_to)
    return clauses


def _owners_draft(petition_id, owner_id):
    return (
        Petition.id == petition_id,
        Petition.owner_id == owner_id,
        Petition.state == PetitionState.DRAFT.value,
    )


def _escape_like(word):
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
