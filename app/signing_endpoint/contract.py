"""The signing endpoint's contract, shared by the web app's endpoint and the Functions app's
signing trigger, so both take the same requests and give the same answers.

    POST /api/petitions/<id>/signatures
    Authorization: Bearer <signing token from the petition page>
    body: empty, or a JSON object ({})

    201 {"petition_id", "new": true, "signature_count"}    a new signature
    200 {"petition_id", "new": false, "signature_count"}   this person had already signed
    400 bad body · 401 missing, bad, expired or misbound token · 404 no such open petition
    405 not a POST · 409 closed or past its deadline · 413 body too large
    429 rate limited (Retry-After) · 503 not recorded, safe to try again (Retry-After)
    errors: {"error": {"status", "code", "message"}}

Framework-free: the Functions app imports it without Flask or Werkzeug.
"""
import re
from typing import NamedTuple

import orjson

from app.domain.errors import DomainError, InvalidInput, NotFound
from app.domain.petitions import parse_petition_id

PATH = re.compile(r"/api/petitions/([^/]+)/signatures")
MAX_BODY_BYTES = 1024
RETRY_AFTER = {429: "60", 503: "1"}  # seconds: limits count per minute; outages are brief
# Every answer is personal and never framed or rendered.
HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}


class Answer(NamedTuple):
    status: int
    payload: dict
    headers: dict

    def body(self):
        return orjson.dumps(self.payload)


def petition_id(segment):
    petition = parse_petition_id(segment)
    if petition is None:
        raise NotFound("No such petition.")
    return petition


def bearer_token(authorization):
    """The token of an `Authorization: Bearer <token>` header, or "" (the service says 401)."""
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def check_body(raw, content_type):
    """Nothing, or a JSON object: the endpoint takes no fields yet, and refuses what it would
    otherwise silently ignore."""
    if not raw.strip():
        return
    if (content_type or "").split(";")[0].strip().lower() != "application/json":
        raise InvalidInput("Send an empty body or a JSON object with Content-Type: application/json.")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidInput("The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise InvalidInput("The body must be a JSON object.")
    if body:
        raise InvalidInput(f"Unknown field(s): {', '.join(sorted(map(str, body)))}.")


def signed(result):
    payload = {"petition_id": result.petition_id, "new": result.new, "signature_count": result.signature_count}
    return Answer(201 if result.new else 200, payload, {})


def refused(error: DomainError):
    return error_answer(error.status, error.code, error.message)


def error_answer(status, code, message, headers=None):
    headers = dict(headers or {})
    if status in RETRY_AFTER:
        headers["Retry-After"] = RETRY_AFTER[status]
    return Answer(status, {"error": {"status": status, "code": code, "message": message}}, headers)
