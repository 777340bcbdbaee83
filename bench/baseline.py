"""The constant-response baseline: the cheapest WSGI app, served by the same gunicorn config,
so every HTTP figure can be read as a fraction of what this machine and server can do at all."""

BODY = b"OK"


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))])
    return [BODY]
