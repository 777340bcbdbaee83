import os
import secrets
import tempfile
from pathlib import Path

from app.repositories.redis_client import SENTINEL_SCHEME, sentinel_url

INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"


class ConfigError(RuntimeError):
    """A setting production needs is missing or unsafe."""


def _env(name, default=None):
    value = os.environ.get(name)
    return default if value in (None, "") else value


def _env_int(name, default):
    return int(_env(name, default))


def _env_bool(name, default):
    value = _env(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


# Redis lookups that have a fallback (rate-limit counters fall back to per-process limits, the
# user card to the users DB) give up after this long, so that with Redis hung a signature still
# answers 503 within the store's own timeout + 0.5 s (tests/reliability/test_redis_outage.py).
FALLBACK_REDIS_TIMEOUT = 0.1


# Free-mail providers whose sign-ups are not limited per domain (REGISTER_RATE_LIMIT_DOMAIN).
DOMAIN_LIMIT_EXEMPT = ",".join((
    "gmail.com", "outlook.com", "hotmail.com", "hotmail.co.uk", "live.com", "live.co.uk", "yahoo.com",
    "yahoo.co.uk", "icloud.com", "me.com", "aol.com", "protonmail.com", "proton.me", "gmx.com", "btinternet.com",
))


def _limiter_storage_options(redis_url):
    if not redis_url:
        return {}
    timeouts = {"socket_timeout": FALLBACK_REDIS_TIMEOUT, "socket_connect_timeout": FALLBACK_REDIS_TIMEOUT}
    if redis_url.startswith(f"{SENTINEL_SCHEME}://"):
        # Counters are read from the primary: a replica's copy may lag the count just made.
        return {**timeouts, "sentinel_kwargs": dict(timeouts), "use_replicas": False}
    return timeouts


def _redis_url():
    """REDIS_URL, or the Sentinel URL that REDIS_SENTINELS ("host:port,host:port") and
    REDIS_SENTINEL_SERVICE name (app/repositories/redis_client.py)."""
    url, sentinels = _env("REDIS_URL"), _env("REDIS_SENTINELS")
    if not sentinels:
        return url
    if url:
        raise ConfigError("set REDIS_URL or REDIS_SENTINELS, not both")
    service = _env("REDIS_SENTINEL_SERVICE")
    if not service:
        raise ConfigError("REDIS_SENTINELS needs REDIS_SENTINEL_SERVICE, the primary's name in Sentinel")
    return sentinel_url(sentinels.replace(" ", ""), service)


def sql_pool_options():
    """Each process's connection pool per database, sized from the worker count so that every
    gunicorn worker together holds at most SQL_MAX_CONNECTIONS on one server (both databases
    counted: they may share it). No overflow: a request that finds the pool empty waits up to
    SQL_POOL_TIMEOUT seconds, then answers 503 "safe to try again" instead of asking the server
    for more connections than it allows (PostgreSQL's default max_connections is 100)."""
    workers = _env_int("WEB_CONCURRENCY", 8)
    budget = _env_int("SQL_MAX_CONNECTIONS", 80)
    default_size = max(1, min(10, budget // (2 * workers)))
    return {
        "pool_pre_ping": True,
        "pool_size": _env_int("SQL_POOL_SIZE", default_size),
        "max_overflow": 0,
        "pool_timeout": float(_env("SQL_POOL_TIMEOUT", "5")),
    }


class BaseConfig:
    """Defaults shared by every environment. Instances read the environment in __init__."""

    ENV_NAME = "base"

    def __init__(self):
        self.SECRET_KEY = _env("SECRET_KEY")
        # Empty REDIS_URL (and no REDIS_SENTINELS) means the embedded in-process substitute (fakeredis).
        self.REDIS_URL = _redis_url()
        self.REDIS_SOCKET_TIMEOUT = float(_env("REDIS_SOCKET_TIMEOUT", "0.5"))
        # A signature is answered as recorded only once this many replicas have it (Redis WAIT,
        # docs/RELIABILITY.md); 0 on a single node. No confirmation within the timeout: 503.
        self.REDIS_MIN_REPLICAS_ACK = _env_int("REDIS_MIN_REPLICAS_ACK", 0)
        self.REDIS_REPLICA_ACK_TIMEOUT = float(_env("REDIS_REPLICA_ACK_TIMEOUT", "0.3"))
        if self.REDIS_MIN_REPLICAS_ACK and self.REDIS_REPLICA_ACK_TIMEOUT >= self.REDIS_SOCKET_TIMEOUT:
            # The WAIT's answer must come back before the socket gives up on it.
            raise ConfigError("REDIS_REPLICA_ACK_TIMEOUT must be shorter than REDIS_SOCKET_TIMEOUT")
        self.SQLALCHEMY_DATABASE_URI = _env("DATABASE_URL")
        self.SQLALCHEMY_BINDS = {"users": _env("USERS_DATABASE_URL")}
        self.SQLALCHEMY_ENGINE_OPTIONS = sql_pool_options()
        self.SQLALCHEMY_TRACK_MODIFICATIONS = False

        self.MAX_CONTENT_LENGTH = 1024 * 1024
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = False
        self.REMEMBER_COOKIE_HTTPONLY = True
        self.REMEMBER_COOKIE_SAMESITE = "Lax"
        self.FORCE_HTTPS = False
        self.WTF_CSRF_TIME_LIMIT = None  # tokens live as long as the session

        self.RATELIMIT_ENABLED = _env_bool("RATELIMIT_ENABLED", True)
        self.RATELIMIT_STORAGE_URI = self.REDIS_URL or "memory://"
        # No X-RateLimit-*/Retry-After on every response: that costs a Redis read per request and
        # overwrites the Retry-After of 503s. A 429 carries its own Retry-After (app/errors.py).
        self.RATELIMIT_HEADERS_ENABLED = False
        # A hung Redis must not stall every request in the limiter: short timeouts, no retries,
        # and per-process in-memory limits while the store is down.
        self.RATELIMIT_STORAGE_OPTIONS = _limiter_storage_options(self.REDIS_URL)
        self.RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
        self.RATELIMIT_IN_MEMORY_FALLBACK = _env("RATELIMIT_IN_MEMORY_FALLBACK", "600 per minute")
        self.LOGIN_RATE_LIMIT_IP = _env("LOGIN_RATE_LIMIT_IP", "20 per minute")
        self.LOGIN_RATE_LIMIT_ACCOUNT = _env("LOGIN_RATE_LIMIT_ACCOUNT", "5 per minute")
        self.SIGN_RATE_LIMIT_USER = _env("SIGN_RATE_LIMIT_USER", "30 per minute")
        self.SIGN_RATE_LIMIT_IP = _env("SIGN_RATE_LIMIT_IP", "600 per minute")
        # New accounts: per client address, and per email domain (a burst of accounts at one
        # domain is the pattern of a scripted sign-up). The large free-mail providers are exempt
        # from the domain limit: a viral petition brings thousands of real people from each.
        self.REGISTER_RATE_LIMIT_IP = _env("REGISTER_RATE_LIMIT_IP", "10 per hour")
        self.REGISTER_RATE_LIMIT_DOMAIN = _env("REGISTER_RATE_LIMIT_DOMAIN", "20 per hour")
        self.REGISTER_RATE_LIMIT_DOMAIN_EXEMPT = frozenset(
            _env("REGISTER_RATE_LIMIT_DOMAIN_EXEMPT", DOMAIN_LIMIT_EXEMPT).lower().split(",")
        )
        # "Send the link again" and address changes, per account.
        self.EMAIL_LINK_RATE_LIMIT = _env("EMAIL_LINK_RATE_LIMIT", "3 per hour")
        self.REPORT_RATE_LIMIT = _env("REPORT_RATE_LIMIT", "10 per hour")
        # Signatures at which the responding body answers, and at which a debate is considered.
        self.RESPONSE_THRESHOLD = _env_int("RESPONSE_THRESHOLD", 10_000)
        self.DEBATE_THRESHOLD = _env_int("DEBATE_THRESHOLD", 100_000)

        # Signed-in users' session data is read from Redis for this long before the users DB is
        # asked again; logout drops it at once (see app/repositories/user_cache.py).
        self.USER_CACHE_SECONDS = _env_int("USER_CACHE_SECONDS", 60)
        self.USER_CACHE_SOCKET_TIMEOUT = FALLBACK_REDIS_TIMEOUT
        self.PAGE_SIZE = 50
        # Public pages: served from a per-process render cache this long, and shown (marked as
        # possibly out of date) from the last good data this much longer while Redis is down.
        self.PAGE_CACHE_SECONDS = float(_env("PAGE_CACHE_SECONDS", "1.0"))
        self.PAGE_STALE_SECONDS = float(_env("PAGE_STALE_SECONDS", "600"))
        # Background persister and the Redis rebuild at start-up (embedded and dev).
        self.RUN_BACKGROUND_PERSISTER = _env_bool("RUN_BACKGROUND_PERSISTER", False)
        self.REBUILD_REDIS_ON_START = _env_bool("REBUILD_REDIS_ON_START", True)
        self.PERSISTER_BATCH_SIZE = _env_int("PERSISTER_BATCH_SIZE", 1000)
        # Bounds how far SQL trails Redis (plus one batch's time); see SignaturePersister.
        self.PERSISTER_LINGER_MS = _env_int("PERSISTER_LINGER_MS", 100)
        # Outbox entries a persister read and left this long unacknowledged (it died) are claimed
        # by another; shorter than a batch's write would claim batches still being written.
        self.PERSISTER_CLAIM_IDLE_SECONDS = _env_int("PERSISTER_CLAIM_IDLE_SECONDS", 30)
        # Acknowledged outbox entries kept for replays/audits; memory grows with signing rate.
        self.OUTBOX_RETENTION_SECONDS = _env_int("OUTBOX_RETENTION_SECONDS", 60)
        # Pushed counts (app/services/count_push.py): nginx's local-only publisher location
        # (nchan). Set, pages subscribe to /api/petitions/<id>/count/stream and `flask counts
        # publish` has somewhere to publish; unset (make run: no nginx), pages poll.
        self.COUNT_PUBLISH_URL = (_env("COUNT_PUBLISH_URL") or "").rstrip("/") or None
        self.LOG_LEVEL = _env("LOG_LEVEL", "INFO")

        # Signing and lifecycle through Azure Functions (issue 3). "inline": the web app signs
        # in-process and the close sweep runs from `flask petitions close-due` or the embedded
        # thread; "functions": pages sign through the Functions app and launches start an
        # orchestration there.
        self.SIGNING_BACKEND = _env("SIGNING_BACKEND", "inline")
        if self.SIGNING_BACKEND not in ("inline", "functions"):
            raise ConfigError("SIGNING_BACKEND must be inline or functions")
        self.FUNCTIONS_BASE_URL = (_env("FUNCTIONS_BASE_URL") or "").rstrip("/")
        self.FUNCTIONS_KEY = _env("FUNCTIONS_KEY")  # server side only: the lifecycle starter
        self.FUNCTIONS_SIGN_KEY = _env("FUNCTIONS_SIGN_KEY")  # the sign function's own key; pages show it
        self.SIGNING_TOKEN_SECRET = _env("SIGNING_TOKEN_SECRET")
        # The web site's origin: the only CORS origin the Functions app allows, and the start of
        # every link the site mails.
        self.SITE_ORIGIN = (_env("SITE_ORIGIN") or "").rstrip("/") or None
        self.SMTP_URL = _env("SMTP_URL")
        # Without SMTP_URL, mail is written as .eml files here (make run lists them at /dev/mail).
        self.MAIL_DIR = _env("MAIL_DIR")
        self.DEV_MAIL_VIEWER = False
        self.MAIL_SENDER = _env("MAIL_SENDER", "petitions@localhost")
        self.RUN_BACKGROUND_CLOSER = _env_bool("RUN_BACKGROUND_CLOSER", False)
        self.CLOSE_SWEEP_SECONDS = _env_int("CLOSE_SWEEP_SECONDS", 60)
        # The mail job (app/services/mail_job.py): threshold, response and close emails. In-process
        # every MAIL_JOB_SECONDS when RUN_BACKGROUND_MAILER is on (any number of processes may run
        # it), else `flask mail send` or the Functions app's timer.
        self.RUN_BACKGROUND_MAILER = _env_bool("RUN_BACKGROUND_MAILER", False)
        self.MAIL_JOB_SECONDS = _env_int("MAIL_JOB_SECONDS", 30)
        self.MAIL_BATCH_SIZE = _env_int("MAIL_BATCH_SIZE", 100)
        self.MAIL_MAX_ATTEMPTS = _env_int("MAIL_MAX_ATTEMPTS", 6)

    @property
    def embedded_redis(self):
        return not self.REDIS_URL


class DevelopmentConfig(BaseConfig):
    """`make run`: SQLite files and fakeredis unless real servers are named."""

    ENV_NAME = "development"

    def __init__(self):
        super().__init__()
        INSTANCE_DIR.mkdir(exist_ok=True)
        self.SECRET_KEY = self.SECRET_KEY or _dev_secret()
        self.SQLALCHEMY_DATABASE_URI = self.SQLALCHEMY_DATABASE_URI or (
            f"sqlite:///{INSTANCE_DIR / 'petitions.db'}"
        )
        self.SQLALCHEMY_BINDS["users"] = self.SQLALCHEMY_BINDS["users"] or (
            f"sqlite:///{INSTANCE_DIR / 'users.db'}"
        )
        self.RUN_BACKGROUND_PERSISTER = _env_bool("RUN_BACKGROUND_PERSISTER", True)
        self.RUN_BACKGROUND_CLOSER = _env_bool("RUN_BACKGROUND_CLOSER", True)
        self.RUN_BACKGROUND_MAILER = _env_bool("RUN_BACKGROUND_MAILER", True)
        # Mailed links (the mail job has no request to take a host from); `make run` sets it.
        self.SITE_ORIGIN = self.SITE_ORIGIN or "http://127.0.0.1:5000"
        self.SIGNING_TOKEN_SECRET = self.SIGNING_TOKEN_SECRET or self.SECRET_KEY + ":signing"
        self.MAIL_DIR = self.MAIL_DIR or str(INSTANCE_DIR / "mail")
        self.DEV_MAIL_VIEWER = True


class TestConfig(BaseConfig):
    """The suite: real PostgreSQL and Redis on localhost, separate databases."""

    ENV_NAME = "test"

    def __init__(self):
        super().__init__()
        self.TESTING = True
        # Test suite only (production refuses to start without its own key); reviewed for bandit.
        self.SECRET_KEY = "test-secret-key"  # nosec B105
        self.REDIS_URL = _env("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
        self.RATELIMIT_STORAGE_URI = self.REDIS_URL
        self.RATELIMIT_STORAGE_OPTIONS = _limiter_storage_options(self.REDIS_URL)
        self.SQLALCHEMY_DATABASE_URI = _env(
            "TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/petitions_test"
        )
        self.SQLALCHEMY_BINDS = {
            "users": _env(
                "TEST_USERS_DATABASE_URL",
                "postgresql+psycopg://postgres@127.0.0.1:5432/petitions_users_test",
            )
        }
        self.REBUILD_REDIS_ON_START = False
        # Test suite only, like SECRET_KEY above; reviewed for bandit.
        self.SIGNING_TOKEN_SECRET = "test-signing-token-secret-0123456789abcdef"  # nosec B105
        self.SITE_ORIGIN = "https://petitions.test"
        # Each app's mail in a folder of its own, read back as a mailbox (tests/helpers.py).
        self.MAIL_DIR = _env("TEST_MAIL_DIR") or tempfile.mkdtemp(prefix="petitions-mail-")
        # Tests register many accounts from one address; tests/security/ checks these limits.
        self.REGISTER_RATE_LIMIT_IP = self.REGISTER_RATE_LIMIT_DOMAIN = "10000 per hour"
        self.EMAIL_LINK_RATE_LIMIT = "1000 per hour"


class ProductionConfig(BaseConfig):
    """gunicorn wsgi:app. Refuses to start without real secrets and servers."""

    ENV_NAME = "production"

    def __init__(self):
        super().__init__()
        _require(self, "production", "SECRET_KEY", "REDIS_URL", "DATABASE_URL", "USERS_DATABASE_URL")
        if not (self.SMTP_URL or self.MAIL_DIR):
            raise ConfigError("production needs SMTP_URL (or MAIL_DIR for a mail pick-up folder): accounts are confirmed by email")
        if not self.SITE_ORIGIN:
            # Mailed links name the site from this, never from the request's Host header, which
            # a client chooses (a forged Host would mail a victim a link to someone else's site).
            raise ConfigError("production needs SITE_ORIGIN (https://your.site): mailed links are built from it")
        _require_long_secret(self, "SECRET_KEY")
        for name, url in (
            ("DATABASE_URL", self.SQLALCHEMY_DATABASE_URI),
            ("USERS_DATABASE_URL", self.SQLALCHEMY_BINDS["users"]),
        ):
            if url.startswith("sqlite"):
                raise ConfigError(f"{name} must name a real database server, not SQLite")
        if self.SIGNING_BACKEND == "functions":
            _require(
                self,
                "SIGNING_BACKEND=functions",
                "FUNCTIONS_BASE_URL",
                "FUNCTIONS_KEY",
                "FUNCTIONS_SIGN_KEY",
                "SIGNING_TOKEN_SECRET",
            )
            _require_long_secret(self, "SIGNING_TOKEN_SECRET")
        # The signing endpoint's tokens; itsdangerous salts them apart from sessions. Functions
        # mode needs its own, shared with the Functions app (checked above).
        self.SIGNING_TOKEN_SECRET = self.SIGNING_TOKEN_SECRET or self.SECRET_KEY + ":signing"
        self.SESSION_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", True)
        self.REMEMBER_COOKIE_SECURE = self.SESSION_COOKIE_SECURE
        self.FORCE_HTTPS = _env_bool("FORCE_HTTPS", True)


class FunctionsConfig(BaseConfig):
    """The Azure Functions app: real servers and the token secret shared with the web app."""

    ENV_NAME = "functions"

    def __init__(self):
        super().__init__()
        _require(
            self,
            "the Functions app",
            "REDIS_URL",
            "DATABASE_URL",
            "USERS_DATABASE_URL",
            "SIGNING_TOKEN_SECRET",
            "SITE_ORIGIN",
        )
        _require_long_secret(self, "SIGNING_TOKEN_SECRET")


def _setting(config, name):
    """A setting by its environment name (the database URLs live under SQLAlchemy's names)."""
    if name == "DATABASE_URL":
        return config.SQLALCHEMY_DATABASE_URI
    if name == "USERS_DATABASE_URL":
        return config.SQLALCHEMY_BINDS["users"]
    return getattr(config, name)


def _require(config, who, *names):
    missing = [name for name in names if not _setting(config, name)]
    if missing:
        raise ConfigError(f"{who} needs these settings: {', '.join(missing)}")


def _require_long_secret(config, name):
    if len(getattr(config, name)) < 32:
        raise ConfigError(f"{name} must be at least 32 characters")


CONFIGS = {
    "development": DevelopmentConfig,
    "test": TestConfig,
    "production": ProductionConfig,
    "functions": FunctionsConfig,
}


def load_config(name=None):
    name = name or _env("APP_ENV", "development")
    try:
        return CONFIGS[name]()
    except KeyError:
        raise ConfigError(f"APP_ENV must be one of {sorted(CONFIGS)}, not {name!r}") from None


def _dev_secret():
    """A per-checkout secret for local runs, kept in instance/ so sessions survive restarts."""
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
    return path.read_text().strip()
