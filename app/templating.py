"""Jinja filters and globals."""
from datetime import datetime

from app.domain.petitions import as_utc, next_milestone


def format_date(value):
    if not value:
        return ""
    moment = as_utc(datetime.fromisoformat(value) if isinstance(value, str) else value)
    return f"{moment.day} {moment:%B %Y}"


def format_datetime(value):
    if not value:
        return ""
    moment = as_utc(datetime.fromisoformat(value) if isinstance(value, str) else value)
    return f"{moment.day} {moment:%B %Y, %H:%M} UTC"


def progress(count):
    """(next milestone, percent of the way there) for the progress bar."""
    target = next_milestone(count)
    return target, min(100, int(count * 100 / target))


def register_filters(app):
    app.jinja_env.filters["date"] = format_date
    app.jinja_env.filters["datetime"] = format_datetime
    app.jinja_env.filters["number"] = lambda n: f"{int(n or 0):,}"
    app.jinja_env.globals["progress"] = progress
