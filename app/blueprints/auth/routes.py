from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from app.web import wiring
from app.web.auth_session import CurrentUser
from app.blueprints.auth import bp
from app.blueprints.auth.forms import LoginForm, RegisterForm
from app.domain.errors import EmailTaken, InvalidInput
from app.web.extensions import limiter
from app.web.security import safe_next
from app.services.accounts import normalise_email


def _start_session(user):
    """Clears the old session before signing in, so a planted session id is worthless."""
    session.clear()
    login_user(CurrentUser(user))
    current_app.extensions["user_cache"].put(user)  # the next requests need no users-DB query


def _account_key():
    return "login-account:" + normalise_email(request.form.get("email", ""))[:254]


def _next_url():
    return safe_next(request.args.get("next")) or url_for("public.index")


@bp.route("/register", methods=["GET", "POST"])
def register():
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            user = wiring.accounts().register(form.email.data, form.display_name.data, form.password.data)
        except EmailTaken as error:
            form.email.errors.append(error.message)
        except InvalidInput as error:
            for field, message in getattr(error, "fields", {}).items():
                getattr(form, field).errors.append(message)
        else:
            _start_session(user)
            flash(f"Welcome, {user.display_name}. Your account is ready.", "success")
            return redirect(_next_url())
    status = 400 if request.method == "POST" else 200
    return render_template("auth/register.html", form=form), status


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT_IP"], methods=["POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT_ACCOUNT"], methods=["POST"], key_func=_account_key)
def login():
    if current_user.is_authenticated and request.method == "GET":
        return redirect(_next_url())
    form = LoginForm()
    if form.validate_on_submit():
        user = wiring.accounts().authenticate(form.email.data, form.password.data)
        if user is not None:
            _start_session(user)
            flash(f"Signed in as {user.display_name}.", "success")
            return redirect(_next_url())
        form.password.errors.append("That email and password do not match an account.")
    status = 400 if request.method == "POST" else 200
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    wiring.accounts().end_sessions(current_user.id)
    logout_user()
    session.clear()
    flash("You have been signed out.", "info")
    return redirect(url_for("public.index"))
