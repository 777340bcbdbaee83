"""Security headers. Scripts and styles only from our own origin; nothing may frame the site but
a petition's embed, which exists to be framed."""
from flask import request
from flask_talisman import Talisman

CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


# JSON loads nothing and is never framed: the API's answers allow nothing at all.
API_CONTENT_SECURITY_POLICY = {"default-src": "'none'", "frame-ancestors": "'none'"}


# Views any site may put in an <iframe>: no X-Frame-Options, and frame-ancestors open to all.
EMBEDDABLE_ENDPOINTS = frozenset({"public.embed"})


class SecurityHeaders(Talisman):
    """Talisman, with the API's own policy on every answer under /api/ (errors included), and
    framing allowed for the embeddable views alone."""

    def _get_local_options(self):
        options = super()._get_local_options()
        if request.path.startswith("/api/"):
            options = {**options, "content_security_policy": API_CONTENT_SECURITY_POLICY}
        elif request.endpoint in EMBEDDABLE_ENDPOINTS:
            policy = {**options["content_security_policy"], "frame-ancestors": "*"}
            options = {**options, "content_security_policy": policy, "frame_options": None}
        return options


def content_security_policy(config):
    """The policy above; in functions mode the browser may also call the Functions origin."""
    policy = dict(CONTENT_SECURITY_POLICY)
    if config.get("SIGNING_BACKEND") == "functions" and config.get("FUNCTIONS_BASE_URL"):
        from urllib.parse import urlsplit

        parts = urlsplit(config["FUNCTIONS_BASE_URL"])
        policy["connect-src"] = f"'self' {parts.scheme}://{parts.netloc}"
    return policy


def safe_next(target):
    """`target` if it is a path on this site, else None. Refuses absolute URLs, scheme-relative
    `//host`, backslashes (browsers read `/\\host` as `//host`), control characters and encoded
    tricks, since all of those can send a user to another site after login."""
    from urllib.parse import unquote, urlsplit

    if not target or not isinstance(target, str) or len(target) > 2000:
        return None
    decoded = unquote(target)
    if not target.startswith("/") or target.startswith("//"):
        return None
    for candidate in (target, decoded):
        if "\\" in candidate or any(ord(ch) < 32 or ord(ch) == 127 for ch in candidate):
            return None
        if candidate.startswith("//"):
            return None
        parts = urlsplit(candidate)
        if parts.scheme or parts.netloc:
            return None
    return target
