from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from app.blueprints.auth import bp
from app.blueprints.auth.forms import EmailChangeForm, LoginForm, RegisterForm
from app.domain.emails import domain_of, mailbox_of
from app.domain.errors import EmailTaken, InvalidInput, LinkNotValid
from app.services.accounts import ADDRESS_CHANGED, ALREADY_CONFIRMED
from app.web import wiring
from app.web.auth_session import CurrentUser
from app.web.extensions import limiter
from app.web.form_errors import apply_field_errors
from app.web.security import safe_next


def _start_session(user):
    """Clears the old session before signing in, so a planted session id is worthless."""
    session.clear()
    login_user(CurrentUser(user))
    current_app.extensions["user_cache"].put(user)  # the next requests need no users-DB query


def _account_key():
    return "login-account:" + mailbox_of(request.form.get("email", ""))[:254]


def _registration_domain_key():
    return "register-domain:" + domain_of(request.form.get("email", ""))[:254]


def _domain_limit_exempt():
    return domain_of(request.form.get("email", "")) in current_app.config["REGISTER_RATE_LIMIT_DOMAIN_EXEMPT"]


def _user_key():
    return f"email-link-user:{current_user.id}"


def _link_for(token):
    """The confirmation link, on SITE_ORIGIN when set (always in production): never on the
    request's Host header, which the client chooses."""
    origin = current_app.config["SITE_ORIGIN"] or request.host_url.rstrip("/")
    return origin + url_for("auth.confirm", token=token)


def _send_confirmation(user):
    if wiring.accounts().send_confirmation(user, _link_for):
        return True
    flash("We could not send the email just now. Use \"Send the link again\" on your account page in a minute.", "error")
    return False


def _next_url():
    return safe_next(request.args.get("next")) or url_for("public.index")


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["REGISTER_RATE_LIMIT_IP"], methods=["POST"])
@limiter.limit(lambda: current_app.config["REGISTER_RATE_LIMIT_DOMAIN"], methods=["POST"],
               key_func=_registration_domain_key, exempt_when=_domain_limit_exempt)
def register():
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            user = wiring.accounts().register(form.email.data, form.display_name.data, form.password.data)
        except EmailTaken as error:
            form.email.errors.append(error.message)
        except InvalidInput as error:
            apply_field_errors(form, error)
        else:
            _start_session(user)
            if _send_confirmation(user):
                flash(f"Welcome, {user.display_name}. We have emailed a link to {user.email}: open it to confirm "
                      "your address, and then you can sign and launch petitions.", "success")
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


@bp.route("/confirm/<token>")
def confirm(token):
    try:
        user, outcome = wiring.accounts().confirm(token)
    except (LinkNotValid, EmailTaken) as error:
        return render_template("auth/confirm.html", problem=error.message), 400
    if outcome == ADDRESS_CHANGED:
        flash(f"Your email address is now {user.email}.", "success")
    elif outcome == ALREADY_CONFIRMED:
        flash("Your email address was confirmed already.", "info")
    else:
        flash("Thank you: your email address is confirmed. You can now sign and launch petitions.", "success")
    return redirect(url_for("auth.account") if current_user.is_authenticated else url_for("auth.login"))


@bp.route("/confirm/resend", methods=["POST"])
@login_required
@limiter.limit(lambda: current_app.config["EMAIL_LINK_RATE_LIMIT"], key_func=_user_key)
def resend_confirmation():
    user = wiring.accounts().users.get(current_user.id)
    if user.email_confirmed and not user.pending_email:
        flash("Your email address is confirmed already.", "info")
    elif _send_confirmation(user):
        flash(f"We have sent a new link to {user.pending_email or user.email}. It works for 24 hours.", "success")
    return redirect(safe_next(request.form.get("next")) or url_for("auth.account"), code=303)


@bp.route("/account")
@login_required
def account():
    user = wiring.accounts().users.get(current_user.id)
    return render_template("auth/account.html", user=user, form=EmailChangeForm())


@bp.route("/account/email", methods=["POST"])
@login_required
@limiter.limit(lambda: current_app.config["EMAIL_LINK_RATE_LIMIT"], key_func=_user_key)
def change_email():
    accounts = wiring.accounts()
    form = EmailChangeForm()
    if form.validate_on_submit():
        try:
            user = accounts.request_email_change(current_user.id, form.email.data, form.password.data)
        except InvalidInput as error:
            apply_field_errors(form, error)
        else:
            accounts.tell_old_address(user, user.email)
            if _send_confirmation(user):
                flash(f"We have sent a link to {user.pending_email}. Your address changes when you open it.", "success")
            return redirect(url_for("auth.account"), code=303)
    return render_template("auth/account.html", user=accounts.users.get(current_user.id), form=form), 400
