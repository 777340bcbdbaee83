"""The fast path's reader of signed values gives what itsdangerous gives, and nothing where
itsdangerous refuses: tampered, expired, from the future, or for another key or salt."""
import hashlib
import time

import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st
from itsdangerous import BadData, TimestampSigner, URLSafeTimedSerializer

from app.sessions import PublicCacheAwareSessionInterface
from app.signed_values import TimedValueReader

SECRET = "a secret key long enough for a test app"
SESSION = {
    "_user_id": "12345:0123456789abcdef",
    "_fresh": True,
    "_id": hashlib.sha512(b"127.0.0.1|bench").hexdigest(),  # compresses: the payload starts "."
    "csrf_token": hashlib.sha1(b"token").hexdigest(),
}
HOUR = 3600


def session_serializer(secret=SECRET, fallbacks=()):
    app = Flask(__name__)
    app.secret_key = secret
    app.config["SECRET_KEY_FALLBACKS"] = list(fallbacks)
    return PublicCacheAwareSessionInterface().get_signing_serializer(app)


def csrf_serializer(secret=SECRET, signer=TimestampSigner):
    """Flask-WTF's, as the fast path builds it."""
    return URLSafeTimedSerializer(secret, salt="wtf-csrf-token", signer=signer,
                                  signer_kwargs={"digest_method": hashlib.sha1})


def signed_seconds_ago(seconds):
    class Signer(TimestampSigner):
        def get_timestamp(self):
            return int(time.time()) - seconds
    return Signer


def itsdangerous_reads(serializer, value, max_age):
    try:
        return True, serializer.loads(value, max_age=max_age)
    except BadData:
        return False, None


def test_reads_flasks_session_cookie_compressed_or_not():
    serializer = session_serializer()
    compressed = serializer.dumps(SESSION)
    plain = serializer.dumps({"_user_id": "1:t"})
    assert compressed.startswith(".") and not plain.startswith(".")
    reader = TimedValueReader(serializer)
    assert reader.read(compressed, HOUR) == SESSION
    assert reader.read(plain, HOUR) == {"_user_id": "1:t"}


@pytest.mark.parametrize("value", [SESSION, {"_user_id": "1:t"}, "a CSRF token's random part"])
def test_plain_values_read_as_the_serializer_reads_them(value):
    for serializer in (session_serializer(), csrf_serializer()):
        signed = serializer.dumps(value)
        assert TimedValueReader(serializer).read(signed, HOUR) == serializer.loads(signed) == value


def test_flasks_tagged_values_read_as_their_tags():
    """Why the fast path checks that what it reads is a string: a tagged value is no longer one."""
    serializer = session_serializer()
    signed = serializer.dumps({"_user_id": ("1", "t"), "_flashes": [("message", "hello")]})
    read = TimedValueReader(serializer).read(signed, HOUR)
    assert serializer.loads(signed)["_user_id"] == ("1", "t")
    assert read == {"_user_id": {" t": ["1", "t"]}, "_flashes": [{" t": ["message", "hello"]}]}


def test_reads_flask_wtfs_csrf_token():
    serializer = csrf_serializer()
    assert TimedValueReader(serializer).read(serializer.dumps(SESSION["csrf_token"]), None) == SESSION["csrf_token"]


@pytest.mark.parametrize("seconds_ago, max_age, readable", [
    (10, HOUR, True),
    (HOUR, HOUR, True),
    (HOUR + 1, HOUR, False),
    (-5, HOUR, False),  # from the future: itsdangerous refuses a negative age
    (10 * HOUR, None, True),  # no limit (Flask-WTF's WTF_CSRF_TIME_LIMIT = None)
])
def test_the_age_limit_is_itsdangerous(monkeypatch, seconds_ago, max_age, readable):
    monkeypatch.setattr(time, "time", lambda: 1_800_000_000.5)  # no second may pass mid-test
    value = csrf_serializer(signer=signed_seconds_ago(seconds_ago)).dumps("token")
    assert itsdangerous_reads(csrf_serializer(), value, max_age) == (readable, "token" if readable else None)
    assert TimedValueReader(csrf_serializer()).read(value, max_age) == ("token" if readable else None)


def test_another_key_or_salt_is_refused():
    value = session_serializer().dumps(SESSION)
    assert TimedValueReader(session_serializer(secret="another secret key of the same sort")).read(value, HOUR) is None
    assert TimedValueReader(csrf_serializer()).read(csrf_serializer(secret="another").dumps("t"), HOUR) is None
    assert TimedValueReader(csrf_serializer()).read(value, HOUR) is None  # the session's salt


def test_a_fallback_keys_cookie_is_left_to_flask():
    old = session_serializer(secret="the key before the rotation").dumps(SESSION)
    rotated = session_serializer(fallbacks=["the key before the rotation"])
    assert rotated.loads(old, max_age=HOUR) == SESSION
    assert TimedValueReader(rotated).read(old, HOUR) is None
    assert TimedValueReader(rotated).read(rotated.dumps(SESSION), HOUR) == SESSION


@pytest.mark.parametrize("value", [None, "", "no-dots", "one.dot", "é" + "x.y.z", "..", "a.b.c"])
def test_malformed_values_read_as_nothing(value):
    assert TimedValueReader(session_serializer()).read(value, HOUR) is None


ALPHABET = st.sampled_from("abcXYZ019-_.=+/ \x00é")


@settings(max_examples=400, deadline=None)
@given(position=st.integers(min_value=0), insert=ALPHABET, delete=st.booleans())
def test_never_reads_what_itsdangerous_refuses(position, insert, delete):
    serializer = session_serializer()
    genuine = serializer.dumps(SESSION)
    at = position % (len(genuine) + 1)
    value = genuine[:at] + insert + genuine[at + (1 if delete else 0):]
    read = TimedValueReader(serializer).read(value, HOUR)
    accepted, loaded = itsdangerous_reads(serializer, value, HOUR)
    if read is not None:
        assert accepted and read == loaded
    if value == genuine:
        assert read == SESSION
