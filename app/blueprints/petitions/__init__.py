from flask import Blueprint

bp = Blueprint("petitions", __name__)

from app.blueprints.petitions import routes  # noqa: E402,F401  (routes attach to bp)
