"""The application factory: an app exists only inside create_app(config)."""
import logging
import os
import sys
import threading

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from app.web.json_provider import OrjsonProvider
from app.web.sessions import PublicCacheAwareSessionInterface
from config import load_config


def create_app(config=None):
    config = config or load_config()
    # Named for the app package, so templates/ and static/ are found beside app/web/.
    app = Flask("app", instance_relative_config=False)
    app.config.from_object(config)
    app.config["APP_CONFIG"] = config
    app.json = OrjsonProvider(app)
    app.session_interface = PublicCacheAwareSessionInterface()

    configure_logging(app)
    register_extensions(app)
    register_redis(app)
    register_blueprints(app)
    register_errors(app)
    register_input_guard(app)
    register_cli(app)
    register_template_helpers(app)
    register_functions_backend(app)
    register_signing_endpoint(app)
    app.before_request(first_request_setup(app))
    return app


def configure_logging(app):
    root = logging.getLogger()
    if not any(getattr(h, "_petitions", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler._petitions = True
        root.addHandler(handler)
    root.setLevel(app.config["LOG_LEVEL"])
    # Alembic announces each of its plugins at INFO on every `flask` command.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def register_extensions(app):
    from app.web.auth_session import configure_login
    from app.web.extensions import csrf, db, limiter, migrate
    from app.web.security import SecurityHeaders, content_security_policy
    from app.services.accounts import HASHER

    # Flask-SQLAlchemy gives SQLALCHEMY_ENGINE_OPTIONS to the default engine only; a bind named
    # by its URL alone would get SQLAlchemy's default pool (5 + 10 overflow), unbounded by the
    # worker count. Every bind gets the same bounded pool.
    app.config["SQLALCHEMY_BINDS"] = {
        name: {"url": url, **app.config["SQLALCHEMY_ENGINE_OPTIONS"]} if isinstance(url, str) else url
        for name, url in app.config["SQLALCHEMY_BINDS"].items()
    }
    db.init_app(app)
    from app.repositories.models import UsersBase

    db.metadatas["users"] = UsersBase.metadata
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(app.root_path), "migrations"))
    csrf.init_app(app)
    limiter.init_app(app)
    configure_login(app)
    production = app.config["ENV_NAME"] == "production"
    # One per app: Talisman keeps its settings on itself, not on the app.
    app.extensions["security_headers"] = SecurityHeaders(
        app,
        force_https=app.config["FORCE_HTTPS"],
        strict_transport_security=production,
        strict_transport_security_max_age=31536000,
        session_cookie_secure=app.config["SESSION_COOKIE_SECURE"],
        session_cookie_http_only=True,
        content_security_policy=content_security_policy(app.config),
        frame_options="DENY",
        referrer_policy="strict-origin-when-cross-origin",
    )
    app.extensions["hasher"] = HASHER


def register_redis(app):
    from app.repositories.open_petitions import OpenPetitionStore
    from app.repositories.redis_client import make_redis
    from app.repositories.user_cache import UserCache

    client = make_redis(app.config["REDIS_URL"], app.config["REDIS_SOCKET_TIMEOUT"])
    app.extensions["redis"] = client
    app.extensions["open_store"] = OpenPetitionStore(
        client, app.config["REDIS_MIN_REPLICAS_ACK"], app.config["REDIS_REPLICA_ACK_TIMEOUT"])
    # Its own client with a short timeout: a hung Redis must not hold every signed-in request
    # for the full store timeout before the users-DB fallback.
    card_client = make_redis(app.config["REDIS_URL"], app.config["USER_CACHE_SOCKET_TIMEOUT"])
    app.extensions["user_cache"] = UserCache(card_client, app.config["USER_CACHE_SECONDS"])


def register_blueprints(app):
    from app.blueprints.api import bp as api_bp
    from app.blueprints.auth import bp as auth_bp
    from app.blueprints.moderation import bp as moderation_bp
    from app.blueprints.petitions import bp as petitions_bp
    from app.blueprints.public import bp as public_bp
    from app.web.converters import PetitionIdConverter

    app.url_map.converters["pid"] = PetitionIdConverter
    for blueprint in (public_bp, auth_bp, petitions_bp, api_bp, moderation_bp):
        app.register_blueprint(blueprint)
    if app.config["DEV_MAIL_VIEWER"]:
        from app.blueprints.dev_mail import bp as dev_mail_bp

        app.register_blueprint(dev_mail_bp)


def register_errors(app):
    from app.web.errors import register_error_handlers

    register_error_handlers(app)


def register_input_guard(app):
    from app.web.input_guard import refuse_nul_characters

    app.before_request(refuse_nul_characters)


def register_cli(app):
    from app.web.cli import register_commands

    register_commands(app)


def register_template_helpers(app):
    from app.web.static_files import register_static_versions
    from app.web.templating import register_filters

    register_filters(app)
    register_static_versions(app)


def register_functions_backend(app):
    """SIGNING_BACKEND=functions: launches start the petition's orchestration in the Functions
    app (PetitionService's on_launch hook), and take-downs end it. Inline mode needs nothing
    here."""
    if app.config["SIGNING_BACKEND"] != "functions":
        return
    from app.services.functions_client import (
        FunctionsClient,
        end_lifecycle_on_take_down,
        start_lifecycle_on_launch,
    )
    from app.services.signing_tokens import SigningTokens

    client = FunctionsClient(
        app.config["FUNCTIONS_BASE_URL"],
        app.config["FUNCTIONS_KEY"],
        SigningTokens(app.config["SIGNING_TOKEN_SECRET"]),
    )
    app.extensions["functions_client"] = client
    app.extensions["on_launch"] = start_lifecycle_on_launch(client)
    app.extensions["moderation_hooks"] = {  # a restored petition gets a new orchestration
        "on_take_down": end_lifecycle_on_take_down(client),
        "on_restore": start_lifecycle_on_launch(client),
    }


def register_signing_endpoint(app):
    """The signing endpoint beside Flask (its own small WSGI app, app/signing_endpoint/), then,
    in production, ProxyFix in front of both: nginx is the one trusted hop that names the
    client's address (the per-IP limits count it) and scheme."""
    from app.services.sign_limits import SignLimits
    from app.services.signing import TokenSigningService
    from app.signing_endpoint.endpoint import SigningEndpoint, WithSigningEndpoint
    from app.web import wiring

    config = app.config
    service = TokenSigningService(app.extensions["open_store"], wiring.signing_tokens(app), SignLimits.from_settings(config))
    production = config["ENV_NAME"] == "production"
    endpoint = SigningEndpoint(service, https_only=config["FORCE_HTTPS"], hsts=production)
    app.extensions["signing_endpoint"] = endpoint
    app.wsgi_app = WithSigningEndpoint(app.wsgi_app, endpoint)
    if production:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)


def first_request_setup(app):
    """Runs once per process, before its first request (so after gunicorn forks, and never
    for `flask db upgrade` or other commands, which may run before the schema exists):
    rebuild Redis from SQL if it lacks the open index, and start background workers."""
    lock = threading.Lock()
    done = threading.Event()

    def hook():
        if done.is_set():
            return
        with lock:
            if done.is_set():
                return
            if app.config["REBUILD_REDIS_ON_START"]:
                from app.web import wiring

                wiring.services().restore_index()
            if app.config["RUN_BACKGROUND_PERSISTER"] and not app.config.get("TESTING"):
                start_background_persister(app)
            if app.config["RUN_BACKGROUND_CLOSER"] and not app.config.get("TESTING"):
                start_background_closer(app)
            if app.config["RUN_BACKGROUND_MAILER"] and not app.config.get("TESTING"):
                start_background_mailer(app)
            done.set()

    return hook


def start_background_persister(app):
    """Embedded mode: drain the outbox into SQL in-process, as `flask signatures persist` would."""
    from app.web import wiring

    stop = threading.Event()

    def run():
        with app.app_context():
            wiring.persister().run_forever(stop)

    thread = threading.Thread(target=run, name="signature-persister", daemon=True)
    thread.start()
    app.extensions["persister_stop"] = stop
    return thread


def start_background_closer(app):
    """Embedded mode: close petitions past their deadline every CLOSE_SWEEP_SECONDS in-process,
    as `flask petitions close-due` would. The Functions app does this in functions mode."""
    from app.web import wiring

    if app.config["SIGNING_BACKEND"] != "inline":
        return None
    return _every(app, "CLOSE_SWEEP_SECONDS", "close-sweep", lambda: wiring.services().sweep(), "closer_stop")


def start_background_mailer(app):
    """Runs the mail job every MAIL_JOB_SECONDS in-process (`make run`, or any deployment that
    sets RUN_BACKGROUND_MAILER): safe in every worker at once, as the job's row locks keep two
    from sending the same mail. The Functions app's timer does it in functions mode."""
    from app.web import wiring

    return _every(app, "MAIL_JOB_SECONDS", "mail-job", lambda: wiring.mail_job().run_once(), "mailer_stop")


def _every(app, seconds_setting, name, job, stop_name):
    """A daemon thread running `job` in an app context every `seconds_setting` seconds; a failed
    run is logged and the next one tries again. app.extensions[stop_name] stops it."""
    log = logging.getLogger(__name__)
    stop = threading.Event()

    def run():
        while not stop.wait(app.config[seconds_setting]):
            with app.app_context():
                try:
                    job()
                except Exception:
                    log.exception("%s failed; retrying at the next run", name)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    app.extensions[stop_name] = stop
    return thread
