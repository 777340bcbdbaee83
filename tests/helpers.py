"""Helpers that drive the app the way a browser does: real forms, real CSRF tokens, and the
confirmation link read from the mail the app sent."""
import re
from urllib.parse import urlsplit

from app.domain.emails import normalise_address
from bench.browsers import confirmation_links

TOKEN_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
DEFAULT_PASSWORD = "correct horse battery"


def browser_at(app, ip):
    """A test client whose requests come from the address `ip` (per-IP limits count it)."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ip
    return client


def csrf_token(client, path="/auth/login"):
    page = client.get(path).get_data(as_text=True)
    match = TOKEN_RE.search(page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def post_form(client, path, data, token_from=None, **kwargs):
    data = dict(data)
    data.setdefault("csrf_token", csrf_token(client, token_from or path))
    return client.post(path, data=data, **kwargs)


def register(client, email="ann@example.com", name="Ann Example", password=DEFAULT_PASSWORD, confirm=True):
    """Registers, and (unless confirm=False) opens the confirmation link mailed to `email`."""
    response = post_form(
        client, "/auth/register", {"email": email, "display_name": name, "password": password}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    if confirm:
        confirmed = client.get(confirmation_path(client.application, email))
        assert confirmed.status_code == 302, confirmed.get_data(as_text=True)
    return response


def confirmation_path(app, email):
    """The path of the newest confirmation link mailed to `email` (in the app's MAIL_DIR)."""
    link = confirmation_links(app.config["MAIL_DIR"]).get(normalise_address(email))
    assert link is not None, f"no confirmation link was mailed to {email}"
    return urlsplit(link).path


def login(client, email="ann@example.com", password=DEFAULT_PASSWORD):
    return post_form(client, "/auth/login", {"email": email, "password": password})


def logout(client):
    return post_form(client, "/auth/logout", {}, token_from="/")


def create_draft(client, title="Save the local library from closure", body="Libraries matter.", days=30):
    response = post_form(
        client, "/petitions/new", {"title": title, "body": body, "duration_days": str(days)}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])


def launch(client, petition_id):
    return post_form(client, f"/petitions/{petition_id}/launch", {}, token_from=f"/petitions/{petition_id}")


def sign(client, petition_id):
    return post_form(client, f"/petitions/{petition_id}/sign", {}, token_from=f"/petitions/{petition_id}")


def functions_mode_config(functions_port, starter_key="starter-key", sign_key="sign-key"):
    """The test settings with signing and lifecycle sent to a Functions app on a local port."""
    from config.settings import TestConfig

    config = TestConfig()
    config.SIGNING_BACKEND = "functions"
    config.FUNCTIONS_BASE_URL = f"http://127.0.0.1:{functions_port}"
    config.FUNCTIONS_KEY = starter_key
    config.FUNCTIONS_SIGN_KEY = sign_key
    return config
