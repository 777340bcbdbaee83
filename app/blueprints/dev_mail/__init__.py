"""/dev/mail: the mail `make run` wrote to MAIL_DIR, readable in the browser. Registered only
when DEV_MAIL_VIEWER is on (development); production never has these routes."""
from flask import Blueprint

bp = Blueprint("dev_mail", __name__, url_prefix="/dev/mail")

from app.blueprints.dev_mail import routes  # noqa: E402,F401  (routes attach to bp)
