"""/moderation: the report queue, take-downs and restores, and the audit log. Moderators only:
every request checks the role in the users DB (not the cached card), so a revoked moderator
is refused at once."""
from flask import Blueprint

bp = Blueprint("moderation", __name__, url_prefix="/moderation")

from app.blueprints.moderation import routes  # noqa: E402,F401  (routes attach to bp)
