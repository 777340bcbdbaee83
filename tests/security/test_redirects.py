"""Security test 3: `next` after login or registration never leaves the site."""
from urllib.parse import quote, urlsplit

import pytest

from tests.helpers import csrf_token
from tests.integration.support import make_user

PAYLOADS = [
    "https://evil.example/",
    "http://evil.example",
    "//evil.example",
    "///evil.example",
    "////evil.example/path",
    "/\\evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    "/\\/evil.example",
    "/%5Cevil.example",
    "/%2F/evil.example",
    "%2F%2Fevil.example",
    "%2f%5cevil.example",
    "https:evil.example",
    "https:/evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(document.domain)",
    "java%0ascript:alert(1)",
    "%6Aavascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    " //evil.example",
    "/\t/evil.example",
    "/%09/evil.example",
    "/\r\n/evil.example",
    "/%0d%0aLocation:%20https://evil.example",
    "https://localhost@evil.example",
    "//localhost@evil.example",
    "http://[::1]@evil.example",
    "/" + "a" * 5000,
]


def _stays_on_site(location):
    parts = urlsplit(location)
    return (
        parts.scheme in ("", "http", "https")
        and parts.netloc in ("", "localhost")
        and parts.path.startswith("/")
        and not parts.path.startswith("//")
        and "\\" not in location
        and "evil.example" not in location
    )


@pytest.mark.parametrize("payload", PAYLOADS)
def test_login_refuses_open_redirect(app, client, payload):
    user = make_user(app, "ann@example.com")
    path = f"/auth/login?next={quote(payload, safe='')}"
    response = client.post(path, data={
        "csrf_token": csrf_token(client), "email": user["email"], "password": "correct horse battery",
    })
    assert response.status_code == 302
    assert _stays_on_site(response.headers["Location"]), response.headers["Location"]


def test_register_refuses_open_redirect(app, client):
    for n, payload in enumerate(PAYLOADS[:10]):
        fresh = app.test_client()
        response = fresh.post(f"/auth/register?next={quote(payload, safe='')}", data={
            "csrf_token": csrf_token(fresh, "/auth/register"), "email": f"new{n}@example.com",
            "display_name": "New Person", "password": "correct horse battery",
        })
        assert response.status_code == 302
        assert _stays_on_site(response.headers["Location"]), (payload, response.headers["Location"])


def test_a_local_next_is_followed(app, client):
    """The control: the check is not just refusing everything."""
    make_user(app, "ann@example.com")
    response = client.post("/auth/login?next=%2Fmy%2Fpetitions%3Fx%3D1", data={
        "csrf_token": csrf_token(client), "email": "ann@example.com", "password": "correct horse battery",
    })
    assert response.headers["Location"] == "/my/petitions?x=1"
