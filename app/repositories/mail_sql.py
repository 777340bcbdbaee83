"""The mail job's tables: campaigns, deliveries and opt-outs. Portable SQL (SQLite, PostgreSQL,
SQL Server). Claims lock rows and skip locked ones: FOR UPDATE SKIP LOCKED on PostgreSQL, a
table hint on SQL Server (SQLAlchemy renders no FOR UPDATE there); SQLite has one writer anyway."""
from sqlalchemy import insert, literal, select, update
from sqlalchemy.exc import IntegrityError

from app.domain.petitions import PetitionState
from app.repositories.models import MailCampaign, MailDelivery, MailOptOut, Petition, Signature
from app.repositories.petitions_sql import VALID

PENDING, SENT, FAILED, SKIPPED = "pending", "sent", "failed", "skipped"
MSSQL_SKIP_LOCKED = "WITH (UPDLOCK, ROWLOCK, READPAST)"


class MailRepository:
    def __init__(self, session):
        self.session = session

    # -- campaigns ------------------------------------------------------------------------------
    def add_campaign(self, petition_id, kind, now):
        """Records the campaign unless it exists; True when this call recorded it."""
        try:
            with self.session.begin_nested():
                self.session.add(MailCampaign(petition_id=petition_id, kind=kind, created_at=now))
        except IntegrityError:
            return False
        return True

    def without_campaign(self, kind, petition_ids):
        """The ids among `petition_ids` that have no campaign of `kind` yet."""
        if not petition_ids:
            return []
        have = set(self.session.scalars(
            select(MailCampaign.petition_id)
            .where(MailCampaign.kind == kind, MailCampaign.petition_id.in_(petition_ids))
        ))
        return [pid for pid in petition_ids if pid not in have]

    def has_unexpanded(self):
        return self.session.scalar(select(MailCampaign.id).where(MailCampaign.expanded_at.is_(None)).limit(1)) is not None

    def claim_unexpanded(self, limit):
        """Campaigns whose deliveries are not written yet, locked; another worker skips them."""
        return self.session.scalars(
            select(MailCampaign)
            .where(MailCampaign.expanded_at.is_(None))
            .order_by(MailCampaign.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .with_hint(MailCampaign, MSSQL_SKIP_LOCKED, "mssql")
        ).all()

    def campaigns(self, petition_id):
        return self.session.scalars(
            select(MailCampaign).where(MailCampaign.petition_id == petition_id).order_by(MailCampaign.id)
        ).all()

    # -- deliveries -----------------------------------------------------------------------------
    def add_delivery(self, petition_id, kind, user_id, now):
        """One delivery to one person (an owner), unless they opted out or already have it."""
        if self.opted_out(petition_id, [user_id]):
            return 0
        try:
            with self.session.begin_nested():
                self.session.add(MailDelivery(petition_id=petition_id, kind=kind, user_id=user_id,
                                              status=PENDING, attempts=0, next_attempt_at=now))
        except IntegrityError:
            return 0
        return 1

    def add_signer_deliveries(self, petition_id, kind, opted_in, now):
        """One delivery to each signer whose `opted_in` column is true: valid signatures only,
        none for the unsubscribed, none twice. One INSERT ... SELECT; returns how many."""
        unsubscribed = select(MailOptOut.user_id).where(
            MailOptOut.petition_id == petition_id, MailOptOut.user_id == Signature.user_id)
        already = select(MailDelivery.id).where(
            MailDelivery.petition_id == petition_id, MailDelivery.kind == kind,
            MailDelivery.user_id == Signature.user_id)
        recipients = select(
            Signature.petition_id, literal(kind, MailDelivery.kind.type), Signature.user_id,
            literal(PENDING, MailDelivery.status.type), literal(0), literal(now, MailDelivery.next_attempt_at.type),
        ).where(Signature.petition_id == petition_id, opted_in.is_(True), VALID,
                ~unsubscribed.exists(), ~already.exists())
        result = self.session.execute(
            insert(MailDelivery).from_select(
                ["petition_id", "kind", "user_id", "status", "attempts", "next_attempt_at"], recipients)
        )
        return result.rowcount

    def claim_due(self, now, limit):
        """Pending deliveries whose time has come, oldest first, locked until this transaction
        ends: two workers never hold the same one, so nobody is mailed twice by a race."""
        return self.session.scalars(
            select(MailDelivery)
            .where(MailDelivery.status == PENDING, MailDelivery.next_attempt_at <= now)
            .order_by(MailDelivery.next_attempt_at, MailDelivery.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .with_hint(MailDelivery, MSSQL_SKIP_LOCKED, "mssql")
        ).all()

    def deliveries(self, petition_id, kind=None):
        query = select(MailDelivery).where(MailDelivery.petition_id == petition_id)
        if kind is not None:
            query = query.where(MailDelivery.kind == kind)
        return self.session.scalars(query.order_by(MailDelivery.id)).all()

    # -- who still wants the mail ---------------------------------------------------------------
    def opted_out(self, petition_id, user_ids):
        return set(self.session.scalars(
            select(MailOptOut.user_id).where(MailOptOut.petition_id == petition_id, MailOptOut.user_id.in_(user_ids))
        ))

    def valid_signers(self, petition_id, user_ids):
        """The users among `user_ids` whose signature of the petition still counts."""
        return set(self.session.scalars(
            select(Signature.user_id).where(Signature.petition_id == petition_id, Signature.user_id.in_(user_ids), VALID)
        ))

    def opt_out(self, petition_id, user_id, now):
        """No more mail to this person about this petition: recorded, and what is still
        pending for them is skipped. Safe to repeat."""
        try:
            with self.session.begin_nested():
                self.session.add(MailOptOut(petition_id=petition_id, user_id=user_id, created_at=now))
        except IntegrityError:
            pass
        self.session.execute(
            update(MailDelivery)
            .where(MailDelivery.petition_id == petition_id, MailDelivery.user_id == user_id,
                   MailDelivery.status == PENDING)
            .values(status=SKIPPED, last_error="unsubscribed")
            .execution_options(synchronize_session=False)
        )

    def closed_since_at_least(self, since, signatures):
        """Petitions closed since `since` with at least `signatures`: a threshold crossed just
        before the close is still mailed although the petition left Redis's open index."""
        return list(self.session.scalars(
            select(Petition.id).where(Petition.state == PetitionState.CLOSED.value, Petition.closed_at >= since,
                                      Petition.signature_count >= signatures)
        ))
