"""Flask's cookie session, minus `Vary: Cookie` on responses marked publicly cacheable.

Flask adds `Vary: Cookie` whenever anything looked at the session, and Flask-Login looks on
every request. A response we mark `Cache-Control: public` (the read API) is the same for every
visitor, so varying on the cookie would only stop CDNs from sharing it.

Its HMAC-SHA1 is Flask's, computed by OpenSSL's SHA-1 directly: Flask's default digest is a
Python wrapper around the same function, which sends every HMAC down Python's slow path.
"""
import hashlib

from flask.sessions import SecureCookieSessionInterface


class PublicCacheAwareSessionInterface(SecureCookieSessionInterface):
    digest_method = staticmethod(hashlib.sha1)

    def save_session(self, app, session, response):
        super().save_session(app, session, response)
        if response.cache_control.public and "Set-Cookie" not in response.headers:
            response.vary.discard("Cookie")
