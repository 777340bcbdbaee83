"""Signing's rate limits (SIGN_RATE_LIMIT_USER and SIGN_RATE_LIMIT_IP, in Flask-Limiter's notation),
counted by the signing script in the same round trip as the signature. Every way in to signing
(the web form, the signing endpoint, the Functions app) shares these counters."""
import functools
from dataclasses import dataclass

from limits import parse

from app.repositories import redis_keys as keys


@dataclass(frozen=True)
class Counter:
    key: str
    limit: int
    window_seconds: int  # a fixed window, starting at the first attempt


@functools.lru_cache(maxsize=32)
def _parsed(limit):
    """Each limit string parsed once per process: the form builds SignLimits for every post."""
    return parse(limit)


class SignLimits:
    def __init__(self, per_user, per_ip, enabled=True):
        self.per_user = _parsed(per_user)
        self.per_ip = _parsed(per_ip)
        self.enabled = enabled

    @classmethod
    def from_settings(cls, settings):
        return cls(
            settings["SIGN_RATE_LIMIT_USER"],
            settings["SIGN_RATE_LIMIT_IP"],
            enabled=settings.get("RATELIMIT_ENABLED", True),
        )

    def counters(self, user_id, ip):
        if not self.enabled:
            return ()
        return (
            Counter(keys.sign_rate("ip", ip or "unknown"), self.per_ip.amount, self.per_ip.get_expiry()),
            Counter(keys.sign_rate("user", user_id), self.per_user.amount, self.per_user.get_expiry()),
        )
