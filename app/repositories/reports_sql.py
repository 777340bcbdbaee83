"""Closing reports and owner notifications in the petitions database."""
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.repositories.models import Notification, Report


class ReportRepository:
    def __init__(self, session):
        self.session = session

    def get(self, petition_id):
        return self.session.get(Report, petition_id)

    def add(self, report):
        """Adds the report unless a concurrent run stored one first; returns the stored one."""
        try:
            with self.session.begin_nested():
                self.session.add(report)
        except IntegrityError:
            return self.session.get(Report, report.petition_id, populate_existing=True)
        return report


class NotificationRepository:
    def __init__(self, session):
        self.session = session

    def get(self, petition_id, kind):
        return self.session.scalar(
            select(Notification).where(Notification.petition_id == petition_id, Notification.kind == kind)
        )

    def get_locked(self, petition_id, kind):
        """The notification as stored now, its row locked until this transaction ends, so only
        one process at a time can be sending it."""
        return self.session.scalar(
            select(Notification)
            .where(Notification.petition_id == petition_id, Notification.kind == kind)
            .with_for_update()
            .execution_options(populate_existing=True)
        )

    def add(self, notification):
        """Adds the notification unless one of the same kind exists; returns the stored one."""
        try:
            with self.session.begin_nested():
                self.session.add(notification)
        except IntegrityError:
            return self.get(notification.petition_id, notification.kind)
        return notification
