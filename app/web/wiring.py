"""Builds services for the current request from the app's clients and the request's session."""
from flask import current_app

from app.services.assembly import Services
from app.web.extensions import db
from app.repositories.mail_sql import MailRepository
from app.repositories.moderation_sql import ModerationLog, ReportRepository
from app.repositories.petitions_sql import PetitionRepository, SignatureRepository
from app.repositories.users_sql import UserRepository
from app.services.accounts import AccountService
from app.services.browsing import BrowseService
from app.services.email_links import EmailLinks
from app.services.mail import make_mailer
from app.services.moderation import ModerationService
from app.services.petitions import PetitionService


def redis_client():
    return current_app.extensions["redis"]


def open_store():
    return current_app.extensions["open_store"]


def accounts():
    return AccountService(
        db.session,
        UserRepository(db.session),
        current_app.extensions["hasher"],
        user_cache=current_app.extensions["user_cache"],
        links=EmailLinks(current_app.config["SECRET_KEY"]),
        mailer=make_mailer(current_app.config),
    )


def browsing():
    return BrowseService(
        open_store(),
        PetitionRepository(db.session),
        current_app.config["PAGE_SIZE"],
        restore_index=services().restore_index,
    )


def petitions():
    return PetitionService(
        db.session,
        PetitionRepository(db.session),
        open_store(),
        on_launch=current_app.extensions.get("on_launch"),
    )


def moderation():
    hooks = current_app.extensions.get("moderation_hooks", {})
    return ModerationService(
        db.session,
        PetitionRepository(db.session),
        SignatureRepository(db.session),
        ReportRepository(db.session),
        ModerationLog(db.session),
        open_store(),
        users=UserRepository(db.session),
        mailer=make_mailer(current_app.config),
        mail=MailRepository(db.session),
        count_publisher=services().count_publisher(),
        **hooks,
    )


def services():
    return Services(db.session, redis_client(), open_store(), current_app.config)


def signing():
    return services().signing()


def persister(consumer=None):
    return services().persister(consumer)


def close_coordinator():
    return services().close_coordinator()


def reports():
    return services().reports()


def history():
    return services().history()


def signing_tokens(app=None):
    from app.services.signing_tokens import SigningTokens

    return SigningTokens((app or current_app).config["SIGNING_TOKEN_SECRET"])


def functions_client():
    """The Functions app client, or None when signing and closing run in-process."""
    return current_app.extensions.get("functions_client")


def invalidations():
    return services().invalidations()


def mail_job():
    return services().mail_job()


def unsubscriptions():
    return services().unsubscriptions()
