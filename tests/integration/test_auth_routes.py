"""Register, log in and log out through the real forms, CSRF tokens and sessions."""
import re

from sqlalchemy import select

from app.web.extensions import db
from app.repositories.models import User
from tests.helpers import DEFAULT_PASSWORD, csrf_token, login, logout, post_form, register
from tests.integration.support import make_user

ERROR_RE = re.compile(r'class="error-message"[^>]*>([^<]*)<')


def field_errors(response):
    return ERROR_RE.findall(response.get_data(as_text=True))


def users(app):
    with app.app_context():
        return db.session.scalars(select(User.email)).all()


def whoami(client):
    """The display name in the header when signed in, else None."""
    match = re.search(r"Sign out \(([^)]*)\)", client.get("/").get_data(as_text=True))
    return match.group(1) if match else None


# -- register --------------------------------------------------------------------------------
def test_register_creates_the_account_and_signs_in(app, client):
    response = register(client, "ann@example.com", "Ann Example", confirm=False)
    assert response.headers["Location"] == "/"
    welcome = client.get("/").get_data(as_text=True)
    assert ('<div class="flash flash-success" role="status">Welcome, Ann Example. We have emailed a link to'
            ' ann@example.com: open it to confirm your address, and then you can sign and launch'
            ' petitions.</div>') in welcome
    assert whoami(client) == "Ann Example"
    assert users(app) == ["ann@example.com"]


def test_register_stores_an_argon2id_hash_with_the_agreed_parameters(app, client):
    register(client)
    with app.app_context():
        stored = db.session.scalar(select(User.password_hash))
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert DEFAULT_PASSWORD not in stored


def test_register_normalises_email_case_and_spaces(app, client):
    register(client, "  Ann@Example.COM ", "Ann")
    assert users(app) == ["ann@example.com"]
    logout(client)
    assert login(client, "ann@example.com").status_code == 302


def test_register_with_an_existing_email_in_another_case_is_refused(app, client):
    make_user(app, "ann@example.com")
    response = post_form(
        client, "/auth/register", {"email": "ANN@example.com", "display_name": "Ann", "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 400
    assert field_errors(response) == ["An account with this email already exists. Try logging in."]
    assert users(app) == ["ann@example.com"]
    assert whoami(client) is None


def test_register_field_errors_are_400_with_messages_and_nothing_saved(app, client):
    response = post_form(client, "/auth/register", {"email": "not-an-email", "display_name": "", "password": "short"})
    assert response.status_code == 400
    errors = field_errors(response)
    assert "Invalid email address." in errors
    assert "This field is required." in errors
    assert "Field must be between 8 and 128 characters long." in errors
    assert 'aria-invalid="true"' in response.get_data(as_text=True)
    assert users(app) == []


def test_password_length_bounds(app, client):
    too_long = post_form(client, "/auth/register", {"email": "a@example.com", "display_name": "A", "password": "p" * 129})
    assert too_long.status_code == 400
    register(client, "b@example.com", "B", password="p" * 128)
    logout(client)
    register(client, "c@example.com", "C", password="p" * 8)
    assert users(app) == ["b@example.com", "c@example.com"]


def test_register_whitespace_only_name_is_refused(app, client):
    response = post_form(client, "/auth/register", {"email": "a@example.com", "display_name": "   ", "password": DEFAULT_PASSWORD})
    assert response.status_code == 400
    assert users(app) == []


def test_register_without_csrf_token_is_refused(app, client):
    response = client.post("/auth/register", data={"email": "a@example.com", "display_name": "A", "password": DEFAULT_PASSWORD})
    assert response.status_code == 400
    assert "Your form expired" in response.get_data(as_text=True)
    assert users(app) == []


def test_register_follows_a_same_site_next(app, client):
    token = csrf_token(client, "/auth/register")
    response = client.post(
        "/auth/register?next=/petitions/5",
        data={"csrf_token": token, "email": "a@example.com", "display_name": "A", "password": DEFAULT_PASSWORD},
    )
    assert response.headers["Location"] == "/petitions/5"


# -- login -----------------------------------------------------------------------------------
def test_login_with_the_right_password_signs_in(app, client):
    make_user(app, "ann@example.com", "Ann Example")
    response = login(client, " ANN@example.com ")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert whoami(client) == "Ann Example"


def test_unknown_email_and_wrong_password_get_the_same_answer(app, client):
    make_user(app, "ann@example.com")
    wrong_password = login(client, "ann@example.com", "not the password")
    unknown_email = login(client, "nobody@example.com", DEFAULT_PASSWORD)
    assert wrong_password.status_code == unknown_email.status_code == 400
    assert field_errors(wrong_password) == field_errors(unknown_email) == [
        "That email and password do not match an account."
    ]
    assert whoami(client) is None


def test_login_clears_the_old_session_so_a_planted_one_is_worthless(app, client):
    make_user(app, "ann@example.com")
    client.get("/auth/login")
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
        planted_csrf = session.get("csrf_token")
    login(client)
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session.get("csrf_token") != planted_csrf
        assert session["_user_id"].split(":")[0].isdigit()


def test_login_next_is_followed_only_when_it_stays_on_the_site(app, client):
    make_user(app, "ann@example.com")
    for target, expected in (("/petitions/3", "/petitions/3"), ("https://evil.example/", "/"), ("//evil.example", "/")):
        token = csrf_token(client)
        response = client.post(
            "/auth/login", query_string={"next": target},
            data={"csrf_token": token, "email": "ann@example.com", "password": DEFAULT_PASSWORD},
        )
        assert response.headers["Location"] == expected, target
        logout(client)


def test_session_cookie_flags(app, client):
    make_user(app, "ann@example.com")
    cookie = login(client).headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_login_rehashes_a_password_stored_with_old_parameters(app, client):
    from argon2 import PasswordHasher

    user = make_user(app, "ann@example.com")
    with app.app_context():
        row = db.session.get(User, user["id"])
        row.password_hash = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(DEFAULT_PASSWORD)
        db.session.commit()
    assert login(client).status_code == 302
    with app.app_context():
        assert db.session.get(User, user["id"]).password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


# -- logout ----------------------------------------------------------------------------------
def test_logout_needs_post(app, client):
    make_user(app, "ann@example.com")
    login(client)
    assert client.get("/auth/logout").status_code == 405
    assert whoami(client) is not None


def test_logout_without_csrf_token_is_refused(app, client):
    make_user(app, "ann@example.com")
    login(client)
    assert client.post("/auth/logout").status_code == 400
    assert whoami(client) is not None


def test_logout_ends_the_session_and_kills_copies_of_the_cookie(app, client):
    make_user(app, "ann@example.com", "Ann")
    login(client)
    with client.session_transaction() as session:
        stolen = dict(session)
    response = logout(client)
    assert response.status_code == 302
    assert whoami(client) is None
    with client.session_transaction() as session:  # replay the cookie taken before logout
        session.update(stolen)
    assert whoami(client) is None
    assert client.get("/my/petitions").status_code == 302


# -- rate limits -----------------------------------------------------------------------------
def test_login_attempts_are_limited_per_account(app, client):
    make_user(app, "ann@example.com")
    app.config["LOGIN_RATE_LIMIT_ACCOUNT"] = "3 per minute"
    for _ in range(3):
        assert login(client, "ann@example.com", "wrong password").status_code == 400
    # Same account, other spelling, right password: still limited.
    refused = login(client, " ANN@Example.com")
    assert refused.status_code == 429
    assert "Too many attempts" in refused.get_data(as_text=True)
    assert refused.headers["Retry-After"] == "60"
    # Another account from the same address is not affected.
    make_user(app, "bob@example.com")
    assert login(client, "bob@example.com").status_code == 302


def test_login_attempts_are_limited_per_ip(app, client):
    app.config["LOGIN_RATE_LIMIT_IP"] = "4 per minute"
    for n in range(4):
        assert login(client, f"user{n}@example.com", "wrong password").status_code == 400
    assert login(client, "someone-else@example.com", "wrong password").status_code == 429
    other_ip = csrf_token(client)
    response = client.post(
        "/auth/login", data={"csrf_token": other_ip, "email": "x@example.com", "password": "whatever1"},
        environ_base={"REMOTE_ADDR": "10.1.2.3"},
    )
    assert response.status_code == 400


def test_showing_the_login_form_is_not_rate_limited(app, client):
    app.config["LOGIN_RATE_LIMIT_IP"] = "1 per minute"
    for _ in range(3):
        assert client.get("/auth/login").status_code == 200


def test_a_signed_in_visitor_to_the_login_page_goes_where_they_were_heading(client):
    register(client, "ann@example.com")
    response = client.get("/auth/login?next=/my/petitions")
    assert response.status_code == 302 and response.headers["Location"] == "/my/petitions"
    assert client.get("/auth/login?next=//evil.example").headers["Location"] == "/"
