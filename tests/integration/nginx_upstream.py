"""A stand-in app server for testing nginx's config alone: it answers every path with a counter
of the requests that reached it, and on /set-cookie/ paths sets a cookie, so a test can see
exactly which requests nginx answered itself. `?max-age=N` makes it send Cache-Control with N."""
import itertools
import os

_served = itertools.count(1)


def app(environ, start_response):
    path = environ["PATH_INFO"]
    body = f"{path} #{next(_served)} pid {os.getpid()}".encode()
    headers = [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
    if environ["QUERY_STRING"] == "set-cookie":
        headers.append(("Set-Cookie", "session=fresh; HttpOnly; Path=/"))
    if environ["QUERY_STRING"].startswith("max-age="):
        headers.append(("Cache-Control", f"public, {environ['QUERY_STRING']}"))
    start_response("200 OK", headers)
    return [body]
