"""Accounts in the users database."""
from sqlalchemy import select

from app.repositories.models import User


class UserRepository:
    def __init__(self, session):
        self.session = session

    def add(self, user):
        self.session.add(user)
        self.session.flush()
        return user

    def get(self, user_id):
        return self.session.get(User, user_id)

    def by_ids(self, user_ids):
        """{id: user} for the ids that still have an account."""
        if not user_ids:
            return {}
        return {u.id: u for u in self.session.scalars(select(User).where(User.id.in_(list(user_ids))))}

    def get_locked(self, user_id):
        """The user, row-locked until the transaction ends (SELECT ... FOR UPDATE where the
        database has it; SQLite locks the whole file on write anyway)."""
        return self.session.scalar(select(User).where(User.id == user_id).with_for_update())

    def by_mailbox(self, mailbox):
        return self.session.scalar(select(User).where(User.mailbox == mailbox))
