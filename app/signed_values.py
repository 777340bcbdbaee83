"""Reads itsdangerous' timed signed values (Flask's session cookie, Flask-WTF's CSRF token) on
the signing fast path, with a fraction of itsdangerous' Python per value.

Under load the session cookie cost a signature more worker time than anything but the Redis
round trip (BENCHMARKS.md): on every call itsdangerous builds a signer, derives its key with an
extra HMAC and turns the timestamp into a datetime, and Flask's tagged JSON walks the payload
in Python. This reader derives the key once, with itsdangerous itself, then checks only what
itsdangerous checks: the HMAC over the value and the timestamp's age. It reads the payload as
plain JSON: Flask's tagged values (tuples, bytes, datetimes) come back as their tagged dicts,
so a caller must check the type of every value it reads (the fast path reads only strings,
which the tags leave as they are).

It is stricter than itsdangerous, never looser: the current secret key only (fallback keys are
Flask's to try), ASCII only, and base64 without stray characters. It never raises: a value it
does not accept is left to Flask, which reads it with itsdangerous.
"""
import binascii
import hmac
import time
import zlib

import orjson
from itsdangerous.signer import HMACAlgorithm

_URL_SAFE_TO_STANDARD = bytes.maketrans(b"-_", b"+/")


def _base64(data):
    """itsdangerous' URL-safe base64 with its padding added, but refusing what the standard
    alphabet lacks where itsdangerous would skip it."""
    padded = data + b"=" * (-len(data) % 4)
    return binascii.a2b_base64(padded.translate(_URL_SAFE_TO_STANDARD), strict_mode=True)


def _plain_json(payload):
    """An itsdangerous URL-safe payload (zlib-compressed when it starts with ".") read by
    orjson: a third of the serializer's own time."""
    compressed = payload.startswith(b".")
    data = _base64(payload[1:] if compressed else payload)
    return orjson.loads(zlib.decompress(data) if compressed else data)


class TimedValueReader:
    def __init__(self, serializer, salt=None):
        signer = serializer.make_signer(salt)
        if not isinstance(signer.algorithm, HMACAlgorithm):
            raise ValueError("only HMAC-signed values can be read here")
        # derive_key() is the newest key's, the one Flask and Flask-WTF sign with.
        self._mac = hmac.new(signer.derive_key(), digestmod=signer.digest_method)
        self._sep = signer.sep

    def read(self, value, max_age):
        """What `serializer.loads(value, max_age=max_age)` returns (max_age None: any age), as
        plain JSON, or None where it would raise (and for the rarer values it accepts but this
        reader leaves to it)."""
        if not value or not value.isascii():
            return None
        signed, sep, signature = value.encode("ascii").rpartition(self._sep)
        payload, stamp_sep, stamp = signed.rpartition(self._sep)
        if not sep or not stamp_sep:
            return None
        mac = self._mac.copy()
        mac.update(signed)
        try:
            if not hmac.compare_digest(mac.digest(), _base64(signature)):
                return None
            age = int(time.time()) - int.from_bytes(_base64(stamp), "big")
            if max_age is not None and not 0 <= age <= max_age:
                return None
            return _plain_json(payload)
        except (binascii.Error, zlib.error, ValueError):  # orjson's errors are ValueErrors
            return None
