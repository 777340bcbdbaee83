"""Signatures per petition per UTC hour (the signature_hours table)."""
from collections import Counter
from datetime import timedelta

from sqlalchemy import case, func, select, text

from app.domain.petitions import as_utc
from app.repositories.models import Petition, SignatureHour

# SQL Server has no INSERT ... ON CONFLICT; HOLDLOCK makes the MERGE's check and write one step.
_MSSQL_ADD = text(
    "MERGE signature_hours WITH (HOLDLOCK) AS target"
    " USING (SELECT :petition_id AS petition_id, :hour AS hour, :signatures AS signatures) AS source"
    " ON target.petition_id = source.petition_id AND target.hour = source.hour"
    " WHEN MATCHED THEN UPDATE SET signatures = target.signatures + source.signatures"
    " WHEN NOT MATCHED THEN INSERT (petition_id, hour, signatures)"
    " VALUES (source.petition_id, source.hour, source.signatures);"
)


def hour_of(moment):
    """The start of the UTC hour `moment` falls in."""
    return as_utc(moment).replace(minute=0, second=0, microsecond=0)


def per_hour(signatures):
    """{(petition_id, hour): n} of (petition_id, signed_at) pairs."""
    return Counter((petition_id, hour_of(signed_at)) for petition_id, signed_at in signatures)


class SignatureHourRepository:
    def __init__(self, session):
        self.session = session

    def add(self, counts, sign=1):
        """Adds (sign=-1: takes away) {(petition_id, hour): n} to the hours, in the caller's
        transaction. In key order, so two persisters lock the same rows in the same order."""
        rows = [
            {"petition_id": pid, "hour": hour, "signatures": sign * n}
            for (pid, hour), n in sorted(counts.items()) if n
        ]
        if not rows:
            return
        dialect = self.session.get_bind(SignatureHour).dialect.name
        if dialect in ("postgresql", "sqlite"):
            if dialect == "postgresql":
                from sqlalchemy.dialects.postgresql import insert
            else:
                from sqlalchemy.dialects.sqlite import insert
            stmt = insert(SignatureHour)
            stmt = stmt.on_conflict_do_update(
                index_elements=["petition_id", "hour"],
                set_={"signatures": SignatureHour.signatures + stmt.excluded.signatures},
            )
            self.session.execute(stmt, rows)
        else:
            for row in rows:
                self.session.execute(_MSSQL_ADD, row)

    def all_hours(self, petition_id):
        """[(hour, signatures)] of every hour the petition has signatures in, oldest first."""
        rows = self.session.execute(
            select(SignatureHour.hour, SignatureHour.signatures)
            .where(SignatureHour.petition_id == petition_id)
            .order_by(SignatureHour.hour)
        ).all()
        return [(as_utc(hour), n) for hour, n in rows]

    def day_export(self, day_start):
        """[(petition_id, title, state, signatures that day, total at its end)] of every
        petition with a signature by the end of the UTC day starting at `day_start`."""
        day_end = day_start + timedelta(days=1)
        # CASE rather than FILTER (WHERE ...), which SQL Server lacks.
        that_day = func.sum(case((SignatureHour.hour >= day_start, SignatureHour.signatures), else_=0))
        rows = self.session.execute(
            select(Petition.id, Petition.title, Petition.state,
                   that_day, func.sum(SignatureHour.signatures))
            .join(SignatureHour, SignatureHour.petition_id == Petition.id)
            .where(SignatureHour.hour < day_end)
            .group_by(Petition.id, Petition.title, Petition.state)
            .order_by(Petition.id)
        ).all()
        return [tuple(row) for row in rows]
