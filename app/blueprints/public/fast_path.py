"""The render cache's hit path, in front of Flask.

Profiling showed a front-page cache hit still spends most of its time in Flask's request
machinery (request context, session, login, limiter and security-header hooks), not in the
cache. A request that cannot be personal (GET, no cookie at all) for a page the cache holds
fresh is answered here with the HTML and the exact headers Flask sent with it, per scheme and
host (so HTTPS redirects and security headers behave as before). Everything else goes to Flask.
"""
from urllib.parse import parse_qsl

from werkzeug.datastructures import MultiDict

from app.domain.errors import InvalidInput
from app.services.browsing import parse_list_query

# Set by the view on the WSGI environ when it stores an anonymous rendering.
CACHE_KEY_ENVIRON = "petitions.page_cache_key"


def index_key(environ):
    """The render cache key for a cookieless GET of the front page, or None."""
    if environ.get("REQUEST_METHOD") != "GET" or environ.get("PATH_INFO") != "/":
        return None
    if environ.get("HTTP_COOKIE"):
        return None
    try:
        return ("index", parse_list_query(MultiDict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))))
    except InvalidInput:
        return None


class FreshPageMiddleware:
    def __init__(self, wsgi_app, page_cache):
        self.wsgi_app = wsgi_app
        self.cache = page_cache

    def __call__(self, environ, start_response):
        key = index_key(environ)
        if key is None:
            return self.wsgi_app(environ, start_response)
        origin = (environ.get("wsgi.url_scheme"), environ.get("HTTP_HOST"))
        hit = self.cache.fresh_response(key, origin)
        if hit is not None:
            body, headers = hit
            start_response("200 OK", headers)
            return [body]
        return self.wsgi_app(environ, self._remember(environ, start_response, origin))

    def _remember(self, environ, start_response, origin):
        def remembering_start_response(status, headers, exc_info=None):
            key = environ.get(CACHE_KEY_ENVIRON)
            names = {name.lower() for name, _ in headers}
            if key is not None and status.startswith("200 ") and exc_info is None and "set-cookie" not in names:
                self.cache.attach_headers(key, origin, list(headers))
            return start_response(status, headers, exc_info)

        return remembering_start_response
