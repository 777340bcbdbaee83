"""HTTP functions: signing from the browser, and the lifecycle starter the web app calls."""
import json
import logging

import azure.durable_functions as df
import azure.functions as func
from sqlalchemy.exc import DBAPIError

from app.domain.errors import DomainError, NotFound, StoreUnavailable
from petition_functions import clients, lifecycle

log = logging.getLogger(__name__)
bp = df.Blueprint()

UNAVAILABLE = "The petition store is not answering. Your signature was not recorded; it is safe to try again."


def json_response(status, payload, headers=None):
    return func.HttpResponse(
        json.dumps(payload), status_code=status, mimetype="application/json", headers=headers or {}
    )


def error_response(error, headers=None):
    headers = dict(headers or {})
    message = error.message
    if error.status == 503:
        headers["Retry-After"] = "1"
        message = UNAVAILABLE
    body = {"error": {"status": error.status, "code": error.code, "message": message}}
    return json_response(error.status, body, headers)


def cors_headers(req):
    """CORS for the web site's own origin only; any other origin gets no CORS headers, so the
    browser refuses to hand it the answer."""
    origin = req.headers.get("Origin")
    if not origin or origin != clients.config().SITE_ORIGIN:
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": "POST",
        "Access-Control-Allow-Headers": "Authorization, Content-Type",
        "Access-Control-Max-Age": "600",
        "Vary": "Origin",
    }


def petition_id_from(req):
    raw = req.route_params.get("petition_id", "")
    if not raw.isascii() or not raw.isdigit() or len(raw) > 12:
        raise NotFound("No such petition.")
    return int(raw)


def bearer_token(req):
    scheme, _, token = (req.headers.get("Authorization") or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def client_ip(req):
    forwarded = req.headers.get("X-Forwarded-For") or ""
    return forwarded.split(",")[0].strip().rsplit(":", 1)[0] or "unknown"


@bp.route(route="petitions/{petition_id}/signatures", methods=["POST", "OPTIONS"],
          auth_level=func.AuthLevel.FUNCTION)
def sign_petition(req: func.HttpRequest) -> func.HttpResponse:
    """201 new signature, 200 already signed (both with the count), 401 bad token, 404 unknown
    petition, 409 not open or past deadline, 429 rate limited, 503 store unavailable."""
    cors = cors_headers(req)
    if req.method == "OPTIONS":
        return func.HttpResponse(status_code=204, headers=cors)
    try:
        petition_id = petition_id_from(req)
        user_id = clients.tokens().user_for(bearer_token(req), petition_id)
        with clients.services() as services:
            result = services.signing().sign(petition_id, user_id, client_ip(req))
    except DomainError as error:
        return error_response(error, cors)
    except DBAPIError:
        log.exception("SQL unavailable while signing")
        return error_response(StoreUnavailable(UNAVAILABLE), cors)
    payload = {"petition_id": petition_id, "new": result.new, "signature_count": result.signature_count}
    return json_response(201 if result.new else 200, payload, cors)


def open_petition_for(req):
    """The open petition a lifecycle request names, after checking its lifecycle token."""
    petition_id = petition_id_from(req)
    clients.tokens().check_lifecycle(req.headers.get("X-Lifecycle-Token"), petition_id)
    with clients.services() as services:
        petition = services.closing().open_petition(petition_id)
        services.session.expunge(petition)
    return petition


@bp.route(route="lifecycle/{petition_id}/start", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def start_lifecycle(req: func.HttpRequest, client) -> func.HttpResponse:
    """Called by the web app at launch (function key + lifecycle token). Starting twice is
    harmless: the instance id comes from the petition id and a live instance is kept."""
    try:
        petition = open_petition_for(req)
    except DomainError as error:
        return error_response(error)
    iid, started = await lifecycle.ensure_started(client, petition)
    return json_response(202 if started else 200, {"instance_id": iid, "started": started})


@bp.route(route="lifecycle/{petition_id}/close", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def close_lifecycle_now(req: func.HttpRequest, client) -> func.HttpResponse:
    """Raises close_now on the petition's orchestration (`flask petitions close <id>`)."""
    try:
        petition = open_petition_for(req)
    except DomainError as error:
        return error_response(error)
    outcome = await lifecycle.ensure_closing(client, petition)
    return json_response(202, {"instance_id": lifecycle.instance_id(petition.id), "outcome": outcome})
