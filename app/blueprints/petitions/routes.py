from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.web import wiring
from app.blueprints.petitions import bp
from app.blueprints.petitions.forms import PetitionForm
from app.domain.errors import InvalidInput
from app.web.auth_session import require_confirmed_email
from app.web.form_errors import apply_field_errors

LAUNCH_NEEDS_CONFIRMED_EMAIL = ("Confirm your email address to launch a petition: follow the link we emailed you, "
                                "or send a new one.")


@bp.route("/petitions/new", methods=["GET", "POST"])
@login_required
def new():
    form = PetitionForm()
    if form.validate_on_submit():
        try:
            petition = wiring.petitions().create_draft(
                current_user, form.title.data, form.body.data, form.duration_days.data
            )
        except InvalidInput as error:
            apply_field_errors(form, error)
        else:
            flash("Draft saved. Check it over, then launch it when you are ready.", "success")
            return redirect(url_for("public.petition", petition_id=petition.id))
    status = 400 if request.method == "POST" else 200
    return render_template("petitions/form.html", form=form, petition=None), status


@bp.route("/petitions/<pid:petition_id>/edit", methods=["GET", "POST"])
@login_required
def edit(petition_id):
    service = wiring.petitions()
    petition = service.editable(petition_id, current_user.id)
    form = PetitionForm(obj=petition)
    if form.validate_on_submit():
        try:
            service.edit_draft(
                petition_id, current_user.id, form.title.data, form.body.data, form.duration_days.data
            )
        except InvalidInput as error:
            apply_field_errors(form, error)
        else:
            flash("Draft updated.", "success")
            return redirect(url_for("public.petition", petition_id=petition_id))
    status = 400 if request.method == "POST" else 200
    return render_template("petitions/form.html", form=form, petition=petition), status


@bp.route("/petitions/<pid:petition_id>/delete", methods=["POST"])
@login_required
def delete(petition_id):
    wiring.petitions().delete_draft(petition_id, current_user.id)
    flash("Draft deleted.", "info")
    return redirect(url_for("petitions.mine"))


@bp.route("/petitions/<pid:petition_id>/launch", methods=["POST"])
@login_required
def launch(petition_id):
    require_confirmed_email(LAUNCH_NEEDS_CONFIRMED_EMAIL)
    wiring.petitions().launch(petition_id, current_user.id)
    flash("Your petition is open. Share it so people can sign.", "success")
    return redirect(url_for("public.petition", petition_id=petition_id))


@bp.route("/my/petitions")
@login_required
def mine():
    petitions = wiring.petitions().owner_overview(current_user.id)
    return render_template("petitions/mine.html", petitions=petitions)
