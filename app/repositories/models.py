"""SQL schema: two declarative bases, one per database.

Plain SQLAlchemy (no Flask) so the Functions app shares it. The `bind_key` in each metadata's
info is what Flask-SQLAlchemy's session uses to route a table to its engine.

Text people type is Unicode/UnicodeText: VARCHAR/TEXT on PostgreSQL and SQLite as before, but
NVARCHAR on SQL Server, whose VARCHAR keeps only its code page and turns the rest into "?".
"""
from datetime import date, datetime, timezone

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Unicode,
    UnicodeText,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql import false

from app.domain.emails import mailbox_of

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow():
    return datetime.now(timezone.utc)


def _mailbox_of_email(context):
    return mailbox_of(context.get_current_parameters()["email"])


class PetitionsBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UsersBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION, info={"bind_key": "users"})


class User(UsersBase):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(Unicode(254), unique=True)
    # The mailbox the address delivers to (app/domain/emails.py): one account per mailbox.
    mailbox: Mapped[str] = mapped_column(Unicode(254), unique=True, default=_mailbox_of_email)
    display_name: Mapped[str] = mapped_column(Unicode(60))
    password_hash: Mapped[str] = mapped_column(String(255))
    # Rotated at logout so a copied session cookie stops working server-side.
    session_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # None until the owner of the address follows the link mailed to it; signing and launching
    # wait for it.
    email_confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A new address asked for and not yet confirmed; `email` changes only when it is.
    pending_email: Mapped[str | None] = mapped_column(Unicode(254))
    # Carried in each confirmation link and bumped when one is used, so a link works once.
    email_link_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Granted and revoked with `flask users grant-moderator / revoke-moderator`.
    is_moderator: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    @property
    def email_confirmed(self):
        return self.email_confirmed_at is not None


class Petition(PetitionsBase):
    __tablename__ = "petitions"
    __table_args__ = (Index("ix_petitions_state_closes_at", "state", "closes_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Users live in another database, so no foreign key; the name is copied for display.
    owner_id: Mapped[int] = mapped_column(Integer, index=True)
    owner_name: Mapped[str] = mapped_column(Unicode(60))
    title: Mapped[str] = mapped_column(Unicode(120))
    body: Mapped[str] = mapped_column(UnicodeText)
    duration_days: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(10), default="draft")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    launched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closes_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # An early close asked for by an operator; the next close sweep carries it out.
    close_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The final count, written when the petition closes (or is taken down). Open counts live in Redis.
    signature_count: Mapped[int] = mapped_column(Integer, default=0)
    # Set while a moderator has taken the petition down; the reason is shown on its page.
    taken_down_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    takedown_reason: Mapped[str | None] = mapped_column(UnicodeText)
    # Signatures the moderators removed (SignatureInvalidation), shown on the petition's page.
    removed_signatures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The official response, once published; loaded with the petition (one more query per load).
    response: Mapped["PetitionResponse | None"] = relationship(lazy="selectin", uselist=False)


class Signature(PetitionsBase):
    __tablename__ = "signatures"
    __table_args__ = (
        UniqueConstraint("petition_id", "user_id", name="uq_signatures_petition_user"),
        # Removed signatures only: new ones (never removed) cost this index nothing.
        Index(
            "ix_signatures_invalidation_id", "invalidation_id",
            postgresql_where=text("invalidation_id IS NOT NULL"),
            sqlite_where=text("invalidation_id IS NOT NULL"),
            mssql_where=text("invalidation_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    petition_id: Mapped[int] = mapped_column(ForeignKey("petitions.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(Integer)
    signed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Where it came from (app/domain/signers.py): for fraud signals and invalidation.
    ip_prefix: Mapped[str | None] = mapped_column(String(43))
    email_domain: Mapped[str | None] = mapped_column(Unicode(254))
    # The signer's opt-ins: one email when the petition gets a response, one when it closes.
    notify_response: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    notify_close: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Set when moderators removed it: the row stays, counted nowhere.
    invalidation_id: Mapped[int | None] = mapped_column(ForeignKey("signature_invalidations.id"))


class SignatureInvalidation(PetitionsBase):
    """Moderators removing a petition's signatures by user, email domain or IP prefix, within an
    optional time window: who, when, why, and how many. `applied_at` stays empty until Redis has
    dropped the signers too; the journal replay (InvalidationService.apply_pending) finishes
    any that a crash left half done."""

    __tablename__ = "signature_invalidations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    petition_id: Mapped[int] = mapped_column(ForeignKey("petitions.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # "user", "domain" or "ip_prefix"
    value: Mapped[str] = mapped_column(Unicode(254))  # user id, domain or prefix
    signed_from: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    signed_to: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(UnicodeText)
    moderator_id: Mapped[int] = mapped_column(Integer)
    moderator_name: Mapped[str] = mapped_column(Unicode(60))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    removed_count: Mapped[int] = mapped_column(Integer, default=0)
    applied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SignatureHour(PetitionsBase):
    """Valid signatures of a petition made in one UTC hour: signatures over time as open data.
    Every insert and removal of signatures changes it in the same transaction, so it always
    adds up to the petition's rows in SQL. Closed petitions keep theirs."""

    __tablename__ = "signature_hours"

    petition_id: Mapped[int] = mapped_column(ForeignKey("petitions.id", ondelete="CASCADE"), primary_key=True)
    hour: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)  # its start, UTC
    signatures: Mapped[int] = mapped_column(Integer)


class Report(PetitionsBase):
    """The closing report, computed once from SQL signatures when the petition closes."""

    __tablename__ = "reports"

    petition_id: Mapped[int] = mapped_column(
        ForeignKey("petitions.id", ondelete="CASCADE"), primary_key=True
    )
    final_count: Mapped[int] = mapped_column(Integer)
    first_signature_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_signature_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # [["2026-06-01", 12], ...] one entry per day from launch to close, zero days included.
    per_day: Mapped[list] = mapped_column(JSON)
    # [[100, "2026-06-02T10:00:00+00:00"], ...] for each milestone reached.
    milestones: Mapped[list] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Notification(PetitionsBase):
    """A message to a petition's owner; one per (petition, kind), so retries do not repeat it."""

    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("petition_id", "kind", name="uq_notifications_petition_kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    petition_id: Mapped[int] = mapped_column(ForeignKey("petitions.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(Unicode(200))
    body: Mapped[str] = mapped_column(UnicodeText)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Set once the email went out; stays empty when no SMTP server is configured.
    emailed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PetitionResponse(PetitionsBase):
    """The responding body's answer to a petition that crossed RESPONSE_THRESHOLD, published by
    a moderator on its behalf."""

    __tablename__ = "petition_responses"

    petition_id: Mapped[int] = mapped_column(ForeignKey("petitions.id", ondelete="CASCADE"), primary_key=True)
    body: Mapped[str] = mapped_column(UnicodeText)
    responded_on: Mapped[date] = mapped_column(Date)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    moderator_id: Mapped[int] = mapped_column(Integer)
    moderator_name: Mapped[str] = mapped_column(Unicode(60))


class PetitionReport(PetitionsBase):
    """"Report this petition": one open report per person per petition (a partial unique index),
    resolved when a moderator dismisses the reports or takes the petition down."""

    __tablename__ = "petition_reports"
    __table_args__ = (
        Index(
            "uq_petition_reports_open", "petition_id", "user_id", unique=True,
            postgresql_where=text("resolved_at IS NULL"),
            sqlite_where=text("resolved_at IS NULL"),
            mssql_where=text("resolved_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    petition_id: Mapped[int] = mapped_column(ForeignKey("petitions.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(20))
    details: Mapped[str] = mapped_column(UnicodeText, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolution: Mapped[str | None] = mapped_column(String(20))


class MailCampaign(PetitionsBase):
    """One mailing about a petition: its owner at a threshold, or its opted-in signers when it
    gets a response or closes. One per (petition, kind), so two workers that see the same event
    record it once; `expanded_at` is set when its deliveries were written."""

    __tablename__ = "mail_campaigns"
    __table_args__ = (UniqueConstraint("petition_id", "kind", name="uq_mail_campaigns_petition_kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    petition_id: Mapped[int] = mapped_column(ForeignKey("petitions.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expanded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)


class MailDelivery(PetitionsBase):
    """One email of a campaign to one person, sent by the mail job and retried with backoff.
    One per (petition, kind, user): a campaign expanded twice writes nobody twice."""

    __tablename__ = "mail_deliveries"
    __table_args__ = (
        UniqueConstraint("petition_id", "kind", "user_id", name="uq_mail_deliveries_petition_kind_user"),
        Index("ix_mail_deliveries_status_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    petition_id: Mapped[int] = mapped_column(ForeignKey("petitions.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))
    user_id: Mapped[int] = mapped_column(Integer)  # in the users database: no foreign key
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending, sent, failed, skipped
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Unicode(200))


class MailOptOut(PetitionsBase):
    """Someone who followed an unsubscribe link: no more mail about this petition."""

    __tablename__ = "mail_opt_outs"

    petition_id: Mapped[int] = mapped_column(ForeignKey("petitions.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ModerationAction(PetitionsBase):
    """The audit log: every moderator action and every change of who is a moderator. Rows are
    only ever added. No foreign key, so the log outlives what it names."""

    __tablename__ = "moderation_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    # Who acted: a moderator's id and name, or None and "command line" for `flask users ...`.
    moderator_id: Mapped[int | None] = mapped_column(Integer)
    moderator_name: Mapped[str] = mapped_column(Unicode(60))
    action: Mapped[str] = mapped_column(String(30))
    petition_id: Mapped[int | None] = mapped_column(Integer, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer)
    details: Mapped[str] = mapped_column(UnicodeText, default="")


METADATA_BY_BIND = {None: PetitionsBase.metadata, "users": UsersBase.metadata}
