"""Signing rate limits outside Flask (the Functions app), with the same limit strings as the web
app's Flask-Limiter settings (SIGN_RATE_LIMIT_USER, SIGN_RATE_LIMIT_IP)."""
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from app.domain.errors import RateLimited, StoreUnavailable


class SignRateLimiter:
    def __init__(self, storage_uri, per_user, per_ip, storage_options=None):
        # The same short timeouts as the web app's limiter: a hung Redis fails fast (503).
        self.limiter = FixedWindowRateLimiter(storage_from_string(storage_uri, **(storage_options or {})))
        self.per_user = parse(per_user)
        self.per_ip = parse(per_ip)

    def check(self, user_id, ip):
        try:
            allowed = self.limiter.hit(self.per_ip, "fn-sign-ip", ip or "unknown") and self.limiter.hit(
                self.per_user, "fn-sign-user", str(user_id)
            )
        except Exception as exc:  # the limits storage raises its backend's own errors
            raise StoreUnavailable(
                "The petition store is not answering. Nothing was recorded; it is safe to try again."
            ) from exc
        if not allowed:
            raise RateLimited("Too many attempts. Please wait a minute and try again.")
