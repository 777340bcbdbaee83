"""Every error becomes a page or a JSON body, chosen in one place by what the client asked for."""
import logging

from flask import g, jsonify, render_template, request
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from app.domain.errors import DomainError
from app.web.extensions import db, login_manager

log = logging.getLogger(__name__)

TITLES = {
    400: "Something in the request was not right",
    401: "Please log in",
    403: "Not allowed",
    404: "Page not found",
    405: "Not allowed",
    409: "That cannot be done now",
    413: "Too much data",
    429: "Too many attempts",
    500: "Something went wrong",
    503: "Temporarily unavailable",
}


RETRY_AFTER = {429: "60", 503: "1"}  # seconds: limits count per minute; outages are brief


def wants_json():
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def error_response(status, message, code=None, headers=None):
    if wants_json():
        response = jsonify({"error": {"status": status, "code": code or str(status), "message": message}})
    else:
        response = render_template(
            "error.html", status=status, title=TITLES.get(status, "Error"), message=message, code=code
        )
    if isinstance(response, str):
        from flask import make_response

        response = make_response(response)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    if status >= 500:
        response.headers["Cache-Control"] = "no-store"
    return response


def register_error_handlers(app):
    @app.errorhandler(DomainError)
    def domain_error(error):
        headers = {"Retry-After": RETRY_AFTER[error.status]} if error.status in RETRY_AFTER else None
        return error_response(error.status, error.message, error.code, headers)

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return error_response(
            400, "Your form expired or was not sent from this site. Please go back, reload and try again.", "csrf"
        )

    @app.errorhandler(RateLimitExceeded)
    def rate_limited(error):
        """Retry-After is the limit's whole window: when it has surely passed (a minute for the
        per-minute limits, an hour for registration's)."""
        window = error.limit.limit.get_expiry()
        wait = "a minute" if window <= 60 else "an hour" if window <= 3600 else "a day"
        return error_response(429, f"Too many attempts. Please wait {wait} and try again.", "rate_limited",
                              {"Retry-After": str(window)})

    @app.errorhandler(OperationalError)
    @app.errorhandler(PoolTimeout)
    def database_unavailable(error):
        """The database refused or dropped the connection, or this process's pool stayed full
        for SQL_POOL_TIMEOUT: nothing was committed, so trying again is safe."""
        log.warning("database unavailable on %s %s: %s", request.method, request.path, error)
        db.session.rollback()
        # The page's header asks who is signed in; the user may be what could not be loaded.
        g._login_user = login_manager.anonymous_user()
        return error_response(503, "The database is busy right now, so this was not recorded, it is safe to try again.",
                              "store_unavailable", {"Retry-After": RETRY_AFTER[503]})

    @app.errorhandler(HTTPException)
    def http_error(error):
        messages = {
            404: "We could not find that page or petition.",
            405: "That action is not allowed here.",
            413: "The request was larger than 1 MiB.",
        }
        # The same machine-readable codes the domain errors use: "not_found", "method_not_allowed"...
        code = error.name.lower().replace(" ", "_")
        return error_response(error.code, messages.get(error.code, error.description), code)

    @app.errorhandler(Exception)
    def unexpected(error):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "Something went wrong on our side. Please try again.", "internal")
