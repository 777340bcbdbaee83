from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.blueprints.moderation import bp
from app.blueprints.moderation.forms import DismissForm, InvalidateForm, ResponseForm, TakeDownForm
from app.domain.errors import Forbidden, InvalidInput, InvalidTransition
from app.services.invalidation import INVALIDATABLE
from app.services.moderation import REPORT_REASONS
from app.web import wiring
from app.web.extensions import login_manager
from app.web.form_errors import apply_field_errors

LOG_PAGE_SIZE = 100
MAX_LOG_PAGE = 10_000


@bp.before_request
def moderators_only():
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    user = wiring.accounts().users.get(current_user.id)
    if user is None or not user.is_moderator:
        raise Forbidden("These pages are for moderators.")
    return None


@bp.route("")
def queue():
    service = wiring.moderation()
    return render_template(
        "moderation/queue.html", queue=service.queue(), taken_down=service.taken_down(),
        awaiting=service.awaiting_response(current_app.config["RESPONSE_THRESHOLD"]),
    )


def _petition_page(petition_id, take_down_form=None, dismiss_form=None, response_form=None,
                   invalidate_form=None, preview=None, status=200):
    petition, reports, entries = wiring.moderation().petition(petition_id)
    if response_form is None:
        response_form = ResponseForm(formdata=None, obj=petition.response)
    invalidations = wiring.invalidations()
    can_invalidate = petition.state in INVALIDATABLE
    return render_template(
        "moderation/petition.html", petition=petition, reports=reports, entries=entries, reasons=REPORT_REASONS,
        take_down_form=take_down_form or TakeDownForm(formdata=None),
        dismiss_form=dismiss_form or DismissForm(formdata=None), response_form=response_form,
        invalidate_form=invalidate_form or InvalidateForm(formdata=None), preview=preview,
        signals=invalidations.signals(petition_id) if can_invalidate else None,
        can_invalidate=can_invalidate, invalidations=invalidations.history(petition_id),
    ), status


@bp.route("/petitions/<pid:petition_id>")
def petition(petition_id):
    return _petition_page(petition_id)


@bp.route("/petitions/<pid:petition_id>/take-down", methods=["POST"])
def take_down(petition_id):
    form = TakeDownForm()
    if form.validate_on_submit():
        service = wiring.moderation()
        try:
            service.take_down(petition_id, current_user, form.reason.data)
        except InvalidInput as error:
            apply_field_errors(form, error)
        else:
            flash("The petition is taken down: it takes no signatures and is in no list. "
                  + _owner_told(service), "success")
            return redirect(url_for("moderation.petition", petition_id=petition_id), code=303)
    return _petition_page(petition_id, take_down_form=form, status=400)


@bp.route("/petitions/<pid:petition_id>/restore", methods=["POST"])
def restore(petition_id):  # CSRFProtect has checked the form's token
    service = wiring.moderation()
    service.restore(petition_id, current_user)
    flash("The petition is open again. " + _owner_told(service), "success")
    return redirect(url_for("moderation.petition", petition_id=petition_id), code=303)


@bp.route("/petitions/<pid:petition_id>/dismiss", methods=["POST"])
def dismiss(petition_id):
    form = DismissForm()
    if form.validate_on_submit():
        try:
            dismissed = wiring.moderation().dismiss_reports(petition_id, current_user, form.note.data)
        except InvalidInput as error:
            apply_field_errors(form, error)
        else:
            flash(f"{dismissed} report{'' if dismissed == 1 else 's'} dismissed.", "success")
            return redirect(url_for("moderation.queue"), code=303)
    return _petition_page(petition_id, dismiss_form=form, status=400)


@bp.route("/petitions/<pid:petition_id>/response", methods=["POST"])
def publish_response(petition_id):
    form = ResponseForm()
    if form.validate_on_submit():
        try:
            wiring.moderation().publish_response(petition_id, current_user, form.body.data, form.responded_on.data)
        except InvalidInput as error:
            apply_field_errors(form, error)
        else:
            flash("The response is published on the petition's page and in the API.", "success")
            return redirect(url_for("moderation.petition", petition_id=petition_id), code=303)
    return _petition_page(petition_id, response_form=form, status=400)


@bp.route("/petitions/<pid:petition_id>/invalidations", methods=["POST"])
def invalidate(petition_id):
    """Preview (how many match now) or remove: the same form, two buttons."""
    form = InvalidateForm()
    if form.validate_on_submit():
        service = wiring.invalidations()
        try:
            chosen = service.criterion(form.kind.data, form.value.data, *form.window())
            if not form.confirm.data:
                return _petition_page(petition_id, invalidate_form=form, preview=service.preview(petition_id, chosen))
            done = service.invalidate(petition_id, current_user, chosen, form.reason.data)
        except InvalidInput as error:
            apply_field_errors(form, error)
        except InvalidTransition as error:
            flash(str(error), "error")
            return redirect(url_for("moderation.petition", petition_id=petition_id), code=303)
        else:
            count = done.removed_count
            flash(f"{count:,} signature{'' if count == 1 else 's'} removed; the public count has changed.", "success")
            return redirect(url_for("moderation.petition", petition_id=petition_id), code=303)
    return _petition_page(petition_id, invalidate_form=form, status=400)


@bp.route("/log")
def audit_log():
    raw = request.args.get("page") or "1"
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_LOG_PAGE:
        raise InvalidInput(f"page must be a whole number from 1 to {MAX_LOG_PAGE:,}.")
    page = int(raw)
    entries, total = wiring.moderation().log_page(page, LOG_PAGE_SIZE)
    pages = max(1, -(-total // LOG_PAGE_SIZE))
    return render_template("moderation/log.html", entries=entries, page=page, pages=pages, total=total)


def _owner_told(service):
    if service.owner_told:
        return "Its owner has been emailed."
    return "Its owner could not be emailed (the mail server failed or the account is gone); the log has the details."
