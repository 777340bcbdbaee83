"""Flask's cookie session, minus `Vary: Cookie` on responses marked publicly cacheable.

Flask adds `Vary: Cookie` whenever anything looked at the session, and Flask-Login looks on
every request. A response we mark `Cache-Control: public` (the read API) is the same for every
visitor, so varying on the cookie would only stop caches from sharing it.
"""
from flask.sessions import SecureCookieSessionInterface


class PublicCacheAwareSessionInterface(SecureCookieSessionInterface):
    def save_session(self, app, session, response):
        super().save_session(app, session, response)
        if response.cache_control.public and "Set-Cookie" not in response.headers:
            response.vary.discard("Cookie")
