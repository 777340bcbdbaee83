"""The signing endpoint: a small WSGI app of its own, mounted beside Flask.

A signature from the sign button's script is one POST with a signing token, not a form post
through a session: no cookie is read, so Flask's session, login, CSRF and page machinery have
nothing to do on it (docs/SECURITY.md says why no CSRF token is needed). It runs the same
service and contract as the Functions app's signing trigger (contract.py).
"""
import logging

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from app.domain.errors import DomainError
from app.signing_endpoint import contract

log = logging.getLogger(__name__)

HSTS = "max-age=31536000; includeSubDomains"  # as the web app's (Talisman's) in production


class SigningEndpoint:
    def __init__(self, service, https_only=False, hsts=False):
        self.service = service  # TokenSigningService
        self.https_only = https_only
        self.headers = dict(contract.HEADERS, **({"Strict-Transport-Security": HSTS} if hsts else {}))

    def __call__(self, environ, start_response):
        request = Request(environ)
        request.max_content_length = contract.MAX_BODY_BYTES
        answer = self.answer(request)
        response = Response(answer.body(), status=answer.status, mimetype="application/json",
                            headers={**self.headers, **answer.headers})
        return response(environ, start_response)

    def answer(self, request):
        match = contract.PATH.fullmatch(request.path)
        try:
            petition_id = contract.petition_id(match.group(1) if match else "")
            if request.method != "POST":
                return contract.error_answer(405, "method_not_allowed", "Sign with a POST.", {"Allow": "POST"})
            if self.https_only and request.scheme != "https":
                return contract.error_answer(403, "https_required", "Signing needs HTTPS.")
            notify = contract.opt_ins(request.get_data(cache=False), request.content_type)
            token = contract.bearer_token(request.headers.get("Authorization"))
            return contract.signed(self.service.sign(petition_id, token, request.remote_addr, notify))
        except DomainError as error:
            return contract.refused(error)
        except RequestEntityTooLarge:
            return contract.error_answer(413, "too_large", f"The body must be at most {contract.MAX_BODY_BYTES} bytes.")
        except Exception:  # a bug must still answer in the contract's shape
            log.exception("signing endpoint failed on %s", request.path)
            return contract.error_answer(500, "internal", "Something went wrong on our side. Please try again.")


class WithSigningEndpoint:
    """WSGI dispatch: the signing endpoint's path to it, every other request to the web app."""

    def __init__(self, web_app, endpoint):
        self.web_app = web_app
        self.endpoint = endpoint

    def __call__(self, environ, start_response):
        if contract.PATH.fullmatch(environ.get("PATH_INFO", "")):
            return self.endpoint(environ, start_response)
        return self.web_app(environ, start_response)
