import re

from flask import abort, current_app, render_template

from app.blueprints.dev_mail import bp
from app.services.mail import read_mail_dir, read_message

# Links in a plain-text body, shown as links (each part is still autoescaped by the template).
LINK = re.compile(r"(https?://\S+)")


@bp.route("")
def inbox():
    return render_template("dev_mail/inbox.html", messages=read_mail_dir(current_app.config["MAIL_DIR"]))


@bp.route("/<name>")
def message(name):
    try:
        stored = read_message(current_app.config["MAIL_DIR"], name)
    except FileNotFoundError:
        abort(404)
    return render_template("dev_mail/message.html", message=stored, parts=LINK.split(stored.body))
