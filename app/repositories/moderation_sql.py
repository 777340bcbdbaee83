"""Reports of petitions and the moderation audit log in SQL (portable queries)."""
from sqlalchemy import func, select, update

from app.domain.petitions import PetitionState
from app.repositories.models import ModerationAction, Petition, PetitionReport


class ReportRepository:
    def __init__(self, session):
        self.session = session

    def add(self, report):
        """Flushes the report; IntegrityError when the person already has an open one here."""
        self.session.add(report)
        self.session.flush()
        return report

    def open_report(self, petition_id, user_id):
        return self.session.scalar(
            select(PetitionReport).where(
                PetitionReport.petition_id == petition_id,
                PetitionReport.user_id == user_id,
                PetitionReport.resolved_at.is_(None),
            )
        )

    def open_reports(self, petition_id):
        return self.session.scalars(
            select(PetitionReport)
            .where(PetitionReport.petition_id == petition_id, PetitionReport.resolved_at.is_(None))
            .order_by(PetitionReport.created_at, PetitionReport.id)
        ).all()

    def resolve_open(self, petition_id, at, resolution):
        """Marks every open report of the petition resolved; returns how many were."""
        result = self.session.execute(
            update(PetitionReport)
            .where(PetitionReport.petition_id == petition_id, PetitionReport.resolved_at.is_(None))
            .values(resolved_at=at, resolution=resolution)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount

    def queue(self, limit=200):
        """[(petition, open reports, first reported at)] for open petitions with open reports,
        most reported first, then the longest waiting."""
        reports = (
            select(
                PetitionReport.petition_id,
                func.count().label("reports"),
                func.min(PetitionReport.created_at).label("first_at"),
            )
            .where(PetitionReport.resolved_at.is_(None))
            .group_by(PetitionReport.petition_id)
            .subquery()
        )
        rows = self.session.execute(
            select(Petition, reports.c.reports, reports.c.first_at)
            .join(reports, reports.c.petition_id == Petition.id)
            .where(Petition.state == PetitionState.OPEN.value)
            .order_by(reports.c.reports.desc(), reports.c.first_at, Petition.id)
            .limit(limit)
        ).all()
        return [tuple(row) for row in rows]


class ModerationLog:
    def __init__(self, session):
        self.session = session

    def add(self, action, moderator_id, moderator_name, petition_id=None, user_id=None, details=""):
        entry = ModerationAction(
            action=action, moderator_id=moderator_id, moderator_name=moderator_name,
            petition_id=petition_id, user_id=user_id, details=details,
        )
        self.session.add(entry)
        return entry

    def page(self, page, page_size, petition_id=None):
        """(entries newest first, total)."""
        stmt = select(ModerationAction)
        if petition_id is not None:
            stmt = stmt.where(ModerationAction.petition_id == petition_id)
        total = self.session.scalar(select(func.count()).select_from(stmt.subquery()))
        rows = self.session.scalars(
            stmt.order_by(ModerationAction.created_at.desc(), ModerationAction.id.desc())
            .offset((page - 1) * page_size)
            .limit(page_size)
        ).all()
        return rows, total
