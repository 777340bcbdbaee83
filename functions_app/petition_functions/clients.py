"""Clients built once per worker process from the same config/ classes the web app uses.

APP_ENV picks the settings class ("functions" by default; the tests use "test"). Each invocation
takes a fresh SQL session from services() and closes it at the end.
"""
import contextlib
import functools
import os

from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from app.services.assembly import Services
from app.domain.petitions import utcnow
from app.repositories.models import PetitionsBase, UsersBase
from app.repositories.open_petitions import OpenPetitionStore
from app.repositories.redis_client import make_redis
from app.services.sign_limits import SignLimits
from app.services.signing import TokenSigningService
from app.services.signing_tokens import SigningTokens
from config import load_config


# The services' clock. Tests that drive orchestrations in simulated time replace it.
clock = utcnow


@functools.cache
def config():
    return load_config(os.environ.get("APP_ENV") or "functions")


@functools.cache
def session_factory():
    settings = config()
    options = settings.SQLALCHEMY_ENGINE_OPTIONS
    petitions_engine = create_engine(settings.SQLALCHEMY_DATABASE_URI, **options)
    users_engine = create_engine(settings.SQLALCHEMY_BINDS["users"], **options)
    return sessionmaker(binds={PetitionsBase: petitions_engine, UsersBase: users_engine})


@functools.cache
def redis_client():
    settings = config()
    return make_redis(settings.REDIS_URL, settings.REDIS_SOCKET_TIMEOUT)


@functools.cache
def open_store():
    settings = config()
    return OpenPetitionStore(redis_client(), settings.REDIS_MIN_REPLICAS_ACK, settings.REDIS_REPLICA_ACK_TIMEOUT)


@functools.cache
def tokens():
    return SigningTokens(config().SIGNING_TOKEN_SECRET, clock=lambda: clock())


@functools.cache
def token_signing():
    """The signing trigger's service: Redis only, as the web app's signing endpoint."""
    return TokenSigningService(open_store(), tokens(), SignLimits.from_settings(vars(config())), clock=lambda: clock())


@contextlib.contextmanager
def services():
    session = session_factory()()
    try:
        yield Services(session, redis_client(), open_store(), vars(config()), clock=lambda: clock())
    finally:
        session.close()


def reset():
    """Forgets every cached client (tests switch settings between cases)."""
    for cached in (config, redis_client, open_store, tokens, token_signing):
        cached.cache_clear()
    if session_factory.cache_info().currsize:
        factory = session_factory()
        for engine in {id(e): e for e in factory.kw["binds"].values()}.values():
            engine.dispose()
    session_factory.cache_clear()
