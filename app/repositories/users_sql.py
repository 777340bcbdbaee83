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

    def by_email(self, email):
        return self.session.scalar(select(User).where(User.email == email))
