"""The signing endpoint's contract, shared by the web app's endpoint and the Functions app's
signing trigger, so both take the same requests and give the same answers.

    POST /api/petitions/<id>/signatures
    Authorization: Bearer <signing token from the petition page>
    body: empty, or a JSON object with optional opt-ins (the signer's choice, each default false):
          {"notify_response": true}  one email when the petition gets its official response
          {"notify_close": true}     one email when it closes

    201 {"petition_id", "new": true, "signature_count"}    a new signature
    200 {"petition_id", "new": false, "signature_count"}   this person had already signed
    400 bad body · 401 missing, bad, expired or misbound token
    403 email not confirmed, or this signer's signature was removed by the moderators
    404 no such open petition · 405 not a POST · 409 closed or past its deadline · 413 body too large
    429 rate limited (Retry-After) · 503 not recorded, safe to try again (Retry-After)
    errors: {"error": {"status", "code", "message"}}

Framework-free: the Functions app imports it without Flask or Werkzeug.
"""
import re
from typing import NamedTuple

import orjson

from app.domain.errors import DomainError, InvalidInput, NotFound
from app.domain.petitions import parse_petition_id
from app.domain.signers import notify_flags

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


OPT_INS = ("notify_response", "notify_close")


def opt_ins(raw, content_type):
    """The signer's opt-ins from the body (notify_flags): nothing, or a JSON object of OPT_INS
    booleans. Anything else is refused rather than silently ignored."""
    if not raw.strip():
        return ""
    if (content_type or "").split(";")[0].strip().lower() != "application/json":
        raise InvalidInput("Send an empty body or a JSON object with Content-Type: application/json.")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidInput("The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise InvalidInput("The body must be a JSON object.")
    if unknown := set(body) - set(OPT_INS):
        raise InvalidInput(f"Unknown field(s): {', '.join(sorted(map(str, unknown)))}.")
    if not all(isinstance(body.get(name, False), bool) for name in OPT_INS):
        raise InvalidInput(f"{' and '.join(OPT_INS)} must be true or false.")
    return notify_flags(body.get("notify_response", False), body.get("notify_close", False))


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
