"""Security test 4: a new session at login, logout kills the session server-side, cookie flags."""
from app.web.extensions import db
from app.repositories.models import User
from tests.helpers import csrf_token, login, logout, register
from tests.integration.support import make_user


def _session_cookie(client):
    cookie = client.get_cookie("session")
    return cookie.value if cookie else None


def _signed_in(app, cookie_value):
    """Whether a browser presenting only this cookie is signed in."""
    browser = app.test_client()
    browser.set_cookie("session", cookie_value)
    return browser.get("/my/petitions").status_code == 200


def test_login_starts_a_new_session_and_a_planted_one_stays_anonymous(app, client):
    make_user(app, "ann@example.com")
    csrf_token(client)  # an anonymous session exists, as one an attacker could plant
    planted = _session_cookie(client)
    with client.session_transaction() as session:
        planted_contents = dict(session)

    assert login(client).status_code == 302
    fresh = _session_cookie(client)
    assert fresh != planted
    with client.session_transaction() as session:
        assert session.get("csrf_token") != planted_contents.get("csrf_token")  # nothing carried over
    assert _signed_in(app, fresh)
    assert not _signed_in(app, planted)


def test_logout_invalidates_the_session_on_the_server(app, client):
    register(client)
    stolen = _session_cookie(client)
    assert _signed_in(app, stolen)
    with app.app_context():
        token_before = db.session.query(User.session_token).scalar()

    assert logout(client).status_code == 302
    assert not _signed_in(app, stolen)  # the copy kept from before logout is dead too
    with app.app_context():
        assert db.session.query(User.session_token).scalar() != token_before

    login(client)  # signing in again works and issues a cookie the server accepts
    assert _signed_in(app, _session_cookie(client))


def test_production_cookie_flags(https_client):
    https_client.get("/auth/register")
    response = https_client.post("/auth/register", data={
        "csrf_token": csrf_token(https_client, "/auth/register"), "email": "ann@example.com",
        "display_name": "Ann", "password": "correct horse battery",
    }, headers={"Referer": "https://localhost/auth/register"})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    cookies = response.headers.getlist("Set-Cookie")
    session_cookie = next(c for c in cookies if c.startswith("session="))
    attributes = {part.strip().split("=")[0].lower(): part.strip() for part in session_cookie.split(";")[1:]}
    assert "secure" in attributes
    assert "httponly" in attributes
    assert attributes["samesite"] == "SameSite=Lax"
