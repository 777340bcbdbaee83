"""The render cache's hit path, in front of Flask.

Profiling showed a cache hit still spends most of its time in Flask's request machinery
(request context, session, login, limiter and security-header hooks), not in the cache. A
request that cannot be personal (GET, no cookie at all) for a response the cache holds fresh is
answered here with the body and the exact headers Flask sent with it, per scheme and host (so
HTTPS redirects and security headers behave as before). It runs ahead of ProxyFix and keys on
the forwarded headers ProxyFix would read, so a hit skips ProxyFix's header parsing too. Three
kinds of response qualify: the front page and the API's list (per list query; the list API
already allows caches a 5 s old answer) and a petition's count (per petition id; the count API
allows 2 s). A matching If-None-Match gets the 304 Flask would send. Everything else goes to
Flask, and only a 200 that the view marked (CACHE_KEY_ENVIRON) is remembered.
"""
import functools
import re
from urllib.parse import parse_qsl

from werkzeug.datastructures import MultiDict
from werkzeug.http import parse_etags, remove_entity_headers, unquote_etag

from app.converters import MAX_ID, PetitionIdConverter
from app.domain.errors import InvalidInput
from app.services.browsing import parse_list_query

# Set by the view on the WSGI environ when it stores an anonymous rendering.
CACHE_KEY_ENVIRON = "petitions.page_cache_key"
# Set by the middleware on a request it could answer from the cache (the key it looked up), so a
# view knows without working the key out again.
FAST_PATH_KEY_ENVIRON = "petitions.fast_path_key"

# The count route with the `pid` converter's ids; anything else is Flask's (404) to give.
COUNT_PATH = re.compile(rf"/api/petitions/({PetitionIdConverter.regex})/count")
LONGEST_COUNT_PATH = len(f"/api/petitions/{MAX_ID}/count")


# The paths that list petitions, and the kind of page each is cached as.
LIST_PATHS = {"/": "index", "/api/petitions": "api_list"}


def list_cache_key(path, query):
    """The cache key of the list at `path` (the front page or the API's) for a parsed query."""
    return (LIST_PATHS[path], query)


# Their keys without a query, the most requested of all: the query parsed once.
PLAIN_LIST_KEYS = {path: list_cache_key(path, parse_list_query(MultiDict())) for path in LIST_PATHS}


def response_origin(environ):
    """What a remembered answer is kept per: scheme and host, since Flask's answer (the HTTPS
    redirect, HSTS, the API's absolute URLs) depends on them."""
    return environ.get("wsgi.url_scheme"), environ.get("HTTP_HOST")


def forwarded_origin(environ):
    """response_origin read ahead of ProxyFix: everything ProxyFix works the scheme and host out
    from, so equal values give equal scheme and host whether or not a proxy is trusted."""
    return (environ.get("wsgi.url_scheme"), environ.get("HTTP_HOST"),
            environ.get("HTTP_X_FORWARDED_PROTO"), environ.get("HTTP_X_FORWARDED_HOST"))


def list_key(environ):
    """The render cache key for the front page or the API's list with this environ's list
    query, or None."""
    path = environ.get("PATH_INFO")
    if path not in LIST_PATHS:
        return None
    if not environ.get("QUERY_STRING"):
        return PLAIN_LIST_KEYS[path]
    try:
        return list_cache_key(path, parse_list_query(MultiDict(parse_qsl(environ["QUERY_STRING"], keep_blank_values=True))))
    except InvalidInput:
        return None


def count_key(environ):
    """The cache key for a petition's count without a query string, or None."""
    path = environ.get("PATH_INFO", "")
    if environ.get("QUERY_STRING") or len(path) > LONGEST_COUNT_PATH:
        return None
    return count_path_key(path)


@functools.lru_cache(maxsize=4096)
def count_path_key(path):
    """The count's cache key for `path`, or None. Memoised: polling clients repeat the same few
    paths, and the match was most of a hit's own time. Only short paths get here, so made-up
    ones cost the memo at most 4,096 small strings."""
    match = COUNT_PATH.fullmatch(path)
    petition_id = int(match.group(1)) if match else None
    if petition_id is None or petition_id > MAX_ID:
        return None
    return count_cache_key(petition_id)


def count_cache_key(petition_id):
    return ("count", petition_id)


def fast_path_key(environ):
    """The cache key a plain cookieless GET may be answered from, or None: HEAD, a body (the
    input guard reads form bodies), If-Match and the rest go to Flask."""
    if (
        environ.get("REQUEST_METHOD") != "GET"
        or environ.get("HTTP_COOKIE")
        or environ.get("CONTENT_LENGTH", "0") not in ("", "0")
        or environ.get("HTTP_TRANSFER_ENCODING")
        or environ.get("HTTP_IF_MATCH")
    ):
        return None
    return list_key(environ) or count_key(environ)


def not_modified(environ, headers):
    """The headers of the 304 Flask's make_conditional answers instead of this 200, or None.
    Cached responses carry no Last-Modified and If-Match never gets here, so If-None-Match
    alone decides, compared weakly as Werkzeug does."""
    etag = next((value for name, value in headers if name.lower() == "etag"), None)
    if etag is None or not parse_etags(environ.get("HTTP_IF_NONE_MATCH")).contains_weak(unquote_etag(etag)[0]):
        return None
    kept = list(headers)
    remove_entity_headers(kept)
    return kept


def answer(environ, start_response, body, headers):
    """A remembered 200, or its 304 when the client already holds it."""
    if environ.get("HTTP_IF_NONE_MATCH") and (unchanged := not_modified(environ, headers)) is not None:
        start_response("304 NOT MODIFIED", unchanged)
        return []
    start_response("200 OK", headers)
    return [body]


class FreshPageMiddleware:
    def __init__(self, wsgi_app, page_cache):
        self.wsgi_app = wsgi_app
        self.cache = page_cache

    def __call__(self, environ, start_response):
        key = fast_path_key(environ)
        if key is None:
            return self.wsgi_app(environ, start_response)
        origin = forwarded_origin(environ)
        hit = self.cache.fresh_response(key, origin)
        if hit is not None:
            return answer(environ, start_response, *hit)
        return self._ask_flask(environ, start_response, key, origin)

    def _ask_flask(self, environ, start_response, key, origin):
        """A miss: Flask answers without the request's If-None-Match, so that even a polling
        client's revalidation yields the full 200 to remember; the 304 is then derived from it
        as a hit's would be. A 200 the view marked with this key, without cookies, is kept."""
        unconditional = {name: value for name, value in environ.items() if name != "HTTP_IF_NONE_MATCH"}
        unconditional[FAST_PATH_KEY_ENVIRON] = key
        started = []
        chunks = self.wsgi_app(unconditional, lambda status, headers, exc_info=None: started.append((status, headers, exc_info)))
        status, headers, exc_info = started[0]
        if not status.startswith("200 ") or exc_info is not None:
            start_response(status, headers, exc_info)
            return chunks
        try:
            body = b"".join(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        names = {name.lower() for name, _ in headers}
        if unconditional.get(CACHE_KEY_ENVIRON) == key and "set-cookie" not in names:
            self.cache.attach_response(key, origin, body, list(headers))
        return answer(environ, start_response, body, headers)
