"""Refuses text the databases cannot store before any view sees it."""
from flask import request

from app.domain.errors import InvalidInput


def refuse_nul_characters():
    """PostgreSQL text cannot hold NUL (0x00): a login, form or search carrying one would fail in
    the database as a 500. Nobody types it, so it is refused outright as bad input."""
    for values in (request.args, request.form):
        if any("\x00" in value for _, value in values.items(multi=True)):
            raise InvalidInput("The request contained a NUL character, which is not allowed in text.")
