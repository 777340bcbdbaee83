"""HTTP functions: signing from the browser, and the lifecycle starter the web app calls."""
import ipaddress
import json

import azure.durable_functions as df
import azure.functions as func

from app.domain.errors import DomainError
from app.signing_endpoint import contract
from petition_functions import clients, lifecycle

bp = df.Blueprint()


def json_response(status, payload, headers=None):
    return func.HttpResponse(
        json.dumps(payload), status_code=status, mimetype="application/json", headers=headers or {}
    )


def error_response(error, headers=None):
    return answer_response(contract.refused(error), headers)


def answer_response(answer, headers=None):
    return func.HttpResponse(
        answer.body(), status_code=answer.status, mimetype="application/json",
        headers={**contract.HEADERS, **answer.headers, **(headers or {})},
    )


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


def client_ip(req):
    """The caller's address from the first X-Forwarded-For entry, which Azure's front end writes
    as "address:port" for IPv4 and may write bare ("unknown" when absent or unreadable)."""
    first = (req.headers.get("X-Forwarded-For") or "").split(",")[0].strip()
    if _is_address(first):
        return first
    host = first.rsplit(":", 1)[0].strip("[]")  # "1.2.3.4:5678", "[2001:db8::1]:5678"
    return host if _is_address(host) else "unknown"


def _is_address(text):
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


@bp.route(route="petitions/{petition_id}/signatures", methods=["POST", "OPTIONS"],
          auth_level=func.AuthLevel.FUNCTION)
def sign_petition(req: func.HttpRequest) -> func.HttpResponse:
    """The signing endpoint's contract (app/signing_endpoint/contract.py), with CORS for the
    site's origin: the same service and answers as the web app's own endpoint."""
    cors = cors_headers(req)
    if req.method == "OPTIONS":
        return func.HttpResponse(status_code=204, headers=cors)
    try:
        petition_id = contract.petition_id(req.route_params.get("petition_id", ""))
        body = req.get_body() or b""
        if len(body) > contract.MAX_BODY_BYTES:
            answer = contract.error_answer(413, "too_large", f"The body must be at most {contract.MAX_BODY_BYTES} bytes.")
            return answer_response(answer, cors)
        notify = contract.opt_ins(body, req.headers.get("Content-Type"))
        token = contract.bearer_token(req.headers.get("Authorization"))
        result = clients.token_signing().sign(petition_id, token, client_ip(req), notify)
    except DomainError as error:
        return error_response(error, cors)
    return answer_response(contract.signed(result), cors)


def open_petition_for(req):
    """The open petition a lifecycle request names, after checking its lifecycle token."""
    petition_id = contract.petition_id(req.route_params.get("petition_id", ""))
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
