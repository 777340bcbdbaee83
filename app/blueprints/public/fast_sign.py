"""The signing form's common case, answered in front of Flask.

A signature is a full form post, and py-spy showed Flask's request machinery (limiter, login,
CSRF, session and security-header hooks) costing several times the signature itself. This path
takes a POST to /petitions/<id>/sign only when everything Flask would check is plainly in order:
a small urlencoded form without NUL characters, the session cookie of a signed-in user whose
identifier matches (Flask-Login's session protection), the session's CSRF token (both signed
values read by app/signed_values.py, stricter than itsdangerous; their payloads as plain JSON,
so every value read from them must be a string; a lone session cookie and a token-only form
read without the general parsers) and, on HTTPS, a referrer that starts with this origin. One
script run then checks the session token against the user's card (a logged-out cookie is
refused), counts the rate limits and signs.

A new or repeated signature is answered here as Flask would: 303 to the petition page, its
`signed=` query naming the outcome the page thanks the signer for, and the headers Flask itself
sent on its last such answer for this scheme and host (until Flask has answered one, everything
goes to Flask). The session is only read, never re-signed. Any other request goes to Flask
untouched; a refusal Flask must explain (rate limited, not open, store down) goes with the
script's answer, so the attempt is neither counted nor waited on twice.
"""
import hashlib
import hmac
import io
import re
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl

from itsdangerous import URLSafeTimedSerializer
from werkzeug.exceptions import SecurityError
from werkzeug.http import parse_cookie
from werkzeug.utils import redirect
from werkzeug.wsgi import get_host

from app.blueprints.public.fast_path import response_origin
from app.converters import MAX_ID
from app.domain.errors import StoreUnavailable
from app.repositories.open_petitions import SIGN_ALREADY, SIGN_NEW, SIGN_SESSION_ENDED
from app.services.sign_limits import SignLimits
from app.services.signing import SignResult
from app.signed_values import TimedValueReader

SIGN_PATH = re.compile(r"/petitions/([1-9][0-9]{0,9})/sign")
# A signed value's characters (itsdangerous' URL-safe base64 and its separator).
TOKEN_CHARS = re.compile(r"[A-Za-z0-9_.-]+")
ANSWER_ENVIRON = "petitions.fast_sign.answer"
MAX_FORM_BYTES = 4096
MAX_ORIGINS = 32  # Host is the client's to choose: learn headers for a few, not without bound
MAX_ANSWERS = 4096  # built thank-you answers kept (two per petition and host signed here)
# Headers the answer sets itself (or, a cookie, never repeats): everything else Flask sent is
# repeated as it was.
OWN_HEADERS = {"location", "set-cookie", "content-length", "content-type"}


@dataclass(frozen=True)
class ScriptAnswer:
    user_id: int
    status: int | None
    count: int
    error: StoreUnavailable | None = None


def script_answer(environ, user_id):
    """The (status, count) this request's signing script gave, for Flask to explain; re-raises
    the store error it met; None when the script did not run for this user."""
    answer = environ.get(ANSWER_ENVIRON)
    if answer is None or answer.user_id != user_id:
        return None
    if answer.error is not None:
        raise answer.error
    return answer.status, answer.count


def lone_signed_value(text, prefix):
    """The value when `text` is only `prefix` and a signed value (`session=<it>` as a Cookie
    header, `csrf_token=<it>` as a form), else None: it reads the same as through the general
    parser, which such characters give nothing to undo (no quotes, escapes, spaces or
    percent-encoding)."""
    if text.startswith(prefix) and TOKEN_CHARS.fullmatch(text, len(prefix)):
        return text[len(prefix):]
    return None


def login_identifier(environ):
    """Flask-Login's session-protection identifier of this request (what its `_id` holds),
    built the way flask_login.utils._create_identifier builds it."""
    user_agent = environ.get("HTTP_USER_AGENT")
    if user_agent is not None:
        user_agent = user_agent.encode("utf-8")
    address = environ.get("HTTP_X_FORWARDED_FOR", environ.get("REMOTE_ADDR"))
    if address is not None:
        address = address.encode("utf-8").split(b",")[0].strip()
    return hashlib.sha512(f"{address}|{user_agent}".encode("utf8")).hexdigest()


class FastSignMiddleware:
    def __init__(self, wsgi_app, app):
        config = app.config
        self.wsgi_app = wsgi_app
        self.app = app
        self.store = app.extensions["open_store"]
        self.limits = SignLimits.from_settings(config)
        self.enabled = bool(config["SIGN_FAST_PATH"] and config["WTF_CSRF_ENABLED"])
        self.csrf = TimedValueReader(URLSafeTimedSerializer(  # Flask-WTF's, with OpenSSL's SHA-1 as in app/sessions.py
            config.get("WTF_CSRF_SECRET_KEY", app.secret_key), salt="wtf-csrf-token",
            signer_kwargs={"digest_method": hashlib.sha1},
        ))
        self.csrf_field = config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
        self.csrf_only_form = f"{self.csrf_field}="
        self.csrf_max_age = config.get("WTF_CSRF_TIME_LIMIT", 3600)
        self.strict_referrer = config.get("WTF_CSRF_SSL_STRICT", True)
        self.https_only = config["FORCE_HTTPS"]
        self.trusted_hosts = config.get("TRUSTED_HOSTS")
        self.session_cookie = app.session_interface.get_cookie_name(app)
        self.session_cookie_prefix = f"{self.session_cookie}="
        self.session_reader = TimedValueReader(app.session_interface.get_signing_serializer(app))
        self.session_max_age = int(app.permanent_session_lifetime.total_seconds())
        self.headers = {}  # (scheme, host) -> the headers Flask sent on its own 303
        self.answers = {}  # (scheme and host, location) -> (status, headers, body) built from them

    def __call__(self, environ, start_response):
        match = SIGN_PATH.fullmatch(environ.get("PATH_INFO", ""))
        if match is None or environ.get("REQUEST_METHOD") != "POST" or not self.enabled:
            return self.wsgi_app(environ, start_response)
        origin = response_origin(environ)
        headers = self.headers.get(origin)
        petition_id = int(match.group(1))
        signer = self._signer(environ) if headers is not None and petition_id <= MAX_ID else None
        if signer is None:
            return self.wsgi_app(environ, self._learning(origin, start_response))
        user_id, token = signer
        counters = self.limits.counters(user_id, environ.get("REMOTE_ADDR"))
        try:
            status, count = self.store.sign(petition_id, user_id, time.time(), counters, session_token=token)
        except StoreUnavailable as error:
            environ[ANSWER_ENVIRON] = ScriptAnswer(user_id, None, 0, error)
            return self.wsgi_app(environ, start_response)
        if status == SIGN_SESSION_ENDED:  # nothing was counted: Flask sees a logged-out cookie
            return self.wsgi_app(environ, start_response)
        if status not in (SIGN_NEW, SIGN_ALREADY):
            environ[ANSWER_ENVIRON] = ScriptAnswer(user_id, status, count)
            return self.wsgi_app(environ, start_response)
        result = SignResult(petition_id=petition_id, new=status == SIGN_NEW, signature_count=count)
        return self._thank(environ, start_response, origin, result)

    def _signer(self, environ):
        """(user id, session token) when Flask would accept this form post from a
        signed-in user, else None. Reads the body, and leaves a copy for Flask."""
        if environ.get("QUERY_STRING") or (self.https_only and environ.get("wsgi.url_scheme") != "https"):
            return None
        token = self._csrf_field(environ)
        if token is None:
            return None
        session = self._session(environ)
        login = session.get("_user_id")
        user_id, _, session_token = login.partition(":") if isinstance(login, str) else ("", "", "")
        if not user_id.isdigit() or not session_token or "_remember" in session:
            return None
        if session.get("_id") != login_identifier(environ) or not self._csrf_valid(environ, token, session):
            return None
        return int(user_id), session_token

    def _session(self, environ):
        """The session as Flask's open_session reads it (its own serializer, cookie name and
        lifetime), or an empty one."""
        header = environ.get("HTTP_COOKIE", "")
        value = lone_signed_value(header, self.session_cookie_prefix) or parse_cookie(header).get(self.session_cookie)
        session = self.session_reader.read(value, self.session_max_age)
        return session if isinstance(session, dict) else {}

    def _csrf_field(self, environ):
        """The form's one CSRF token, from a small ASCII urlencoded body without NULs, or None."""
        if environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
            return None
        length = environ.get("CONTENT_LENGTH", "")
        if not length.isdigit() or not 0 < int(length) <= MAX_FORM_BYTES:
            return None
        body = environ["wsgi.input"].read(int(length))
        environ["wsgi.input"] = io.BytesIO(body)  # Flask reads the form again if it is handed over
        if len(body) != int(length) or not body.isascii():
            return None
        form = body.decode("ascii")
        if (token := lone_signed_value(form, self.csrf_only_form)) is not None:
            return token
        fields = parse_qsl(form, keep_blank_values=True)
        if any("\x00" in name or "\x00" in value for name, value in fields):
            return None
        tokens = [value for name, value in fields if name == self.csrf_field]
        return tokens[0] if len(tokens) == 1 and tokens[0] else None

    def _csrf_valid(self, environ, token, session):
        """Flask-WTF's checks: the signed token matches the session's, and on HTTPS the referrer
        starts with this origin."""
        expected = session.get(self.csrf_field)
        signed = self.csrf.read(token, self.csrf_max_age)
        try:
            if not isinstance(expected, str) or not isinstance(signed, str) or not hmac.compare_digest(expected, signed):
                return False
            host = get_host(environ, self.trusted_hosts)
        except (SecurityError, TypeError):  # TypeError: compare_digest given non-ASCII text
            return False
        if environ.get("wsgi.url_scheme") == "https" and self.strict_referrer:
            # Stricter than Flask-WTF's same_origin, at a fraction of its cost: a referrer that
            # starts with this origin and a slash has its scheme, host and port. Any other
            # spelling of the same origin (another case, :443) is Flask's to judge.
            return environ.get("HTTP_REFERER", "").startswith(f"https://{host}/")
        return True

    def _thank(self, environ, start_response, origin, result):
        page = f"{environ.get('SCRIPT_NAME', '')}/petitions/{result.petition_id}?signed={result.outcome}"
        answer = self.answers.get((origin, page))
        if answer is None:  # the same for every signer: built once, as Flask's redirect builds it
            response = redirect(page, code=303)
            response.headers.extend(self.headers[origin])
            answer = (response.status, response.get_wsgi_headers(environ).to_wsgi_list(), response.get_data())
            if len(self.answers) >= MAX_ANSWERS:
                self.answers.clear()
            self.answers[(origin, page)] = answer
        status, headers, body = answer
        start_response(status, list(headers))
        return [body]

    def _learning(self, origin, start_response):
        def learning_start_response(status, headers, exc_info=None):
            # Flask's only 303 on this route is the thank-you redirect of a signed-in signer.
            known = origin in self.headers or len(self.headers) < MAX_ORIGINS
            if status.startswith("303 ") and exc_info is None and known:
                learned = [(name, value) for name, value in headers if name.lower() not in OWN_HEADERS]
                if self.headers.get(origin) != learned:
                    self.headers[origin] = learned
                    self.answers.clear()  # built from the headers learned before
            return start_response(status, headers, exc_info)

        return learning_start_response
