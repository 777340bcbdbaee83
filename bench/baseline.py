"""The constant-response baselines, served by the same gunicorn config, so every HTTP figure can
be read as a fraction of what this machine and server can do at all.

`app` is the baseline every ratio is taken against. `signing_reference` is what the signing
scenario's requests cost with no work behind them: it reads the posted form and answers with the
site's own thank-you headers and body (captured by the bench into BENCH_SIGN_ANSWER), but checks
and stores nothing. Its ratio is the most signing could reach on this server and load generator."""
import json
import os

BODY = b"OK"
SIGN_ANSWER = json.loads(os.environ.get("BENCH_SIGN_ANSWER", '{"headers": [], "body": ""}'))
SIGN_BODY = SIGN_ANSWER["body"].encode()


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))])
    return [BODY]


def signing_reference(environ, start_response):
    environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    location = environ["PATH_INFO"].removesuffix("/sign") + "?signed=new"
    headers = [("Location", location), *SIGN_ANSWER["headers"], ("Content-Length", str(len(SIGN_BODY)))]
    start_response("303 SEE OTHER", headers)
    return [SIGN_BODY]
