"""Refuses text the databases cannot store before any view sees it."""
from flask import request

from app.domain.errors import InvalidInput

# The only bodies Werkzeug parses into request.form; any other body leaves the form empty.
FORM_MIMETYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


def refuse_nul_characters():
    """PostgreSQL text cannot hold NUL (0x00): a login, form or search carrying one would fail in
    the database as a 500. Nobody types it, so it is refused outright as bad input.
    Requests without a query string or form body (most reads) have nothing to look at, so
    they skip building the empty argument and form dictionaries."""
    sources = []
    if request.query_string:
        sources.append(request.args)
    if request.mimetype in FORM_MIMETYPES:
        sources.append(request.form)
    for values in sources:
        if any("\x00" in value for _, value in values.items(multi=True)):
            raise InvalidInput("The request contained a NUL character, which is not allowed in text.")
