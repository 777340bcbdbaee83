"""SIGNING_BACKEND=functions on the web side: the page signs through the Functions app with a
short-lived token, the CSP lets the browser reach that origin, and a launch starts the lifecycle
through the HTTP starter (a local stand-in for the Functions app records the call)."""
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from app.services.signing_tokens import SigningTokens
from config.settings import ConfigError, ProductionConfig
from tests.helpers import create_draft, functions_mode_config, launch, register

PORT = 5311


class StarterStandIn(BaseHTTPRequestHandler):
    calls = []

    def do_POST(self):  # noqa: N802 (http.server's naming)
        StarterStandIn.calls.append((self.path, self.headers))  # case-insensitive
        body = json.dumps({"instance_id": "x", "started": True}).encode()
        self.send_response(202)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def functions_server():
    StarterStandIn.calls = []
    server = HTTPServer(("127.0.0.1", PORT), StarterStandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield StarterStandIn.calls
    server.shutdown()
    server.server_close()


@pytest.fixture
def config(migrated_databases):
    return functions_mode_config(PORT, "host-key-for-the-starter", "sign-function-key")


def test_launch_starts_the_lifecycle_with_key_and_token(client, functions_server, config):
    register(client)
    petition_id = create_draft(client)
    assert launch(client, petition_id).status_code == 302
    assert len(functions_server) == 1
    path, headers = functions_server[0]
    assert path == f"/api/lifecycle/{petition_id}/start"
    assert headers["x-functions-key"] == "host-key-for-the-starter"
    SigningTokens(config.SIGNING_TOKEN_SECRET).check_lifecycle(headers["X-Lifecycle-Token"], petition_id)


def test_launch_still_succeeds_when_the_functions_app_is_down(client):
    register(client)
    petition_id = create_draft(client)
    response = launch(client, petition_id)  # nothing listens on PORT now
    assert response.status_code == 302
    assert client.get(f"/api/petitions/{petition_id}").get_json()["state"] == "open"


def test_petition_page_signs_through_the_function_with_a_bound_token(client, functions_server, config):
    register(client)
    petition_id = create_draft(client)
    launch(client, petition_id)
    page = client.get(f"/petitions/{petition_id}")
    html = page.get_data(as_text=True)
    assert f'data-sign-url="http://127.0.0.1:{PORT}/api/petitions/{petition_id}/signatures?code=sign-function-key"' in html
    token = html.split('data-sign-token="', 1)[1].split('"', 1)[0]
    assert SigningTokens(config.SIGNING_TOKEN_SECRET).signer_for(token, petition_id).user_id == 1
    assert "/static/sign.js" in html
    # Without JavaScript the same form still posts to the web app.
    assert f'action="/petitions/{petition_id}/sign"' in html
    assert f"connect-src 'self' http://127.0.0.1:{PORT}" in page.headers["Content-Security-Policy"]
    assert "host-key-for-the-starter" not in html


def test_anonymous_visitors_get_no_token(client, functions_server):
    register(client)
    petition_id = create_draft(client)
    launch(client, petition_id)
    fresh = client.application.test_client()  # no session: an anonymous visitor
    assert "data-sign-token" not in fresh.get(f"/petitions/{petition_id}").get_data(as_text=True)


def test_production_in_functions_mode_requires_its_settings(monkeypatch):
    for name, value in {
        "SECRET_KEY": "s" * 40,
        "REDIS_URL": "redis://r:6379/0",
        "DATABASE_URL": "postgresql+psycopg://db/p",
        "USERS_DATABASE_URL": "postgresql+psycopg://db/u",
        "SMTP_URL": "smtp://mail.example:587",
        "SITE_ORIGIN": "https://petitions.example",
        "SIGNING_BACKEND": "functions",
    }.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match="FUNCTIONS_BASE_URL, FUNCTIONS_KEY, FUNCTIONS_SIGN_KEY, SIGNING_TOKEN_SECRET"):
        ProductionConfig()
    monkeypatch.setenv("FUNCTIONS_BASE_URL", "https://fn.example.net")
    monkeypatch.setenv("FUNCTIONS_KEY", "k")
    monkeypatch.setenv("FUNCTIONS_SIGN_KEY", "k2")
    monkeypatch.setenv("SIGNING_TOKEN_SECRET", "short")
    with pytest.raises(ConfigError, match="at least 32"):
        ProductionConfig()
    monkeypatch.setenv("SIGNING_TOKEN_SECRET", "t" * 40)
    assert ProductionConfig().SIGNING_BACKEND == "functions"
    monkeypatch.setenv("SIGNING_BACKEND", "carrier-pigeon")
    with pytest.raises(ConfigError):
        ProductionConfig()


def test_cli_close_asks_the_functions_app_to_raise_close_now(app, client, functions_server, config):
    register(client)
    petition_id = create_draft(client)
    launch(client, petition_id)
    result = app.test_cli_runner().invoke(args=["petitions", "close", str(petition_id)])
    assert result.exit_code == 0, result.output
    assert "asked the Functions app to close petition" in result.output
    path, headers = functions_server[-1]
    assert path == f"/api/lifecycle/{petition_id}/close"
    SigningTokens(config.SIGNING_TOKEN_SECRET).check_lifecycle(headers["X-Lifecycle-Token"], petition_id)


def test_cli_close_reports_an_unreachable_functions_app(app):
    result = app.test_cli_runner().invoke(args=["petitions", "close", "1"])
    assert result.exit_code != 0
    assert "did not accept the request" in result.output
