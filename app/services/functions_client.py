"""The web app's calls to the Functions app: start a petition's lifecycle, or close it now.

Uses the server-side function key (FUNCTIONS_KEY, sent as x-functions-key) plus a lifecycle
token; Durable management URLs never reach a browser.
"""
import json
import logging
import urllib.request

from app.domain.errors import StoreUnavailable

log = logging.getLogger(__name__)


class FunctionsClient:
    def __init__(self, base_url, key, tokens, timeout=5.0):
        if not base_url.lower().startswith(("https://", "http://")):
            raise ValueError("FUNCTIONS_BASE_URL must be an http:// or https:// URL")
        self.base_url = base_url.rstrip("/")
        self.key = key
        self.tokens = tokens
        self.timeout = timeout

    def start_lifecycle(self, petition_id):
        return self._post(f"/api/lifecycle/{petition_id}/start", petition_id)

    def close_now(self, petition_id):
        return self._post(f"/api/lifecycle/{petition_id}/close", petition_id)

    def _post(self, path, petition_id):
        request = urllib.request.Request(
            self.base_url + path,
            data=b"",
            method="POST",
            headers={
                "x-functions-key": self.key,
                "X-Lifecycle-Token": self.tokens.lifecycle_token(petition_id),
                "Accept": "application/json",
            },
        )
        try:
            # Reviewed for bandit B310: the scheme is checked to be http(s) in __init__.
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # nosec B310
                return json.loads(response.read() or b"{}")
        except (OSError, ValueError) as exc:  # URLError/HTTPError are OSErrors; bad JSON a ValueError
            raise StoreUnavailable(f"The Functions app did not accept the request: {exc}") from exc


def _hook_logging_failure(call, failure):
    """A hook that runs after a commit: a failed call is logged, never raised, so it cannot turn
    the committed change into an error page."""

    def hook(petition):
        try:
            call(petition.id)
        except Exception:
            log.warning(failure, petition.id, exc_info=True)

    return hook


def start_lifecycle_on_launch(client):
    """The PetitionService on_launch hook (and on_restore): the five-minute sweep starts any
    orchestration a failed start left missing."""
    return _hook_logging_failure(client.start_lifecycle, "could not start the lifecycle of petition %s; the sweep will")


def end_lifecycle_on_take_down(client):
    """The ModerationService on_take_down hook: close_now ends the orchestration of a petition
    taken down. If the call fails, the orchestration ends by itself at the deadline, when its
    close step finds the petition taken down."""
    return _hook_logging_failure(client.close_now, "could not end the lifecycle of petition %s")
