"""The constant-response app every HTTP figure is a ratio to, served through the same nginx and
gunicorn settings as the site, so a ratio says how much of what this machine and stack can do at
all a scenario gets. It answers every GET with a short text and every POST, after reading its
body, with 201 and a JSON body the size of the signing endpoint's: nothing is checked or stored."""
BODY = b"OK"
SIGNED = b'{"outcome": "signed", "petition_id": 1, "signature_count": 1}'


def app(environ, start_response):
    if environ["REQUEST_METHOD"] == "POST":
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        start_response("201 Created", [("Content-Type", "application/json"), ("Content-Length", str(len(SIGNED)))])
        return [SIGNED]
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))])
    return [BODY]
