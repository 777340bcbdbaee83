"""Our session interface signs with OpenSSL's SHA-1 directly: the same HMAC as Flask's default,
so cookies issued before or by a default interface still open, and the other way round."""
from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from app.sessions import PublicCacheAwareSessionInterface


def serializers():
    app = Flask(__name__)
    app.secret_key = "a secret key long enough for a test app"
    return (SecureCookieSessionInterface().get_signing_serializer(app),
            PublicCacheAwareSessionInterface().get_signing_serializer(app))


def test_session_cookies_are_interchangeable_with_flasks_default():
    default, ours = serializers()
    session = {"_user_id": "5:token", "csrf_token": "abc"}
    assert ours.loads(default.dumps(session)) == session
    assert default.loads(ours.dumps(session)) == session
