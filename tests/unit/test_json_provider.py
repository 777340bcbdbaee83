from flask import Flask, jsonify
from markupsafe import Markup

from app.web.json_provider import OrjsonProvider


def _app():
    app = Flask(__name__)
    app.json = OrjsonProvider(app)
    return app


def test_jsonify_sends_orjson_bytes_with_the_json_mimetype():
    app = _app()
    with app.test_request_context():
        response = jsonify({"id": 7, "title": "Café", 3: Markup("<b>x</b>")})
    assert response.mimetype == "application/json"
    assert response.get_json() == {"id": 7, "title": "Café", "3": "<b>x</b>"}


def test_unknown_types_are_refused_not_stringified():
    app = _app()
    try:
        app.json.dumps({"x": object()})
    except TypeError as error:
        assert "not JSON serializable" in str(error)
    else:
        raise AssertionError("an object() must not serialise")
