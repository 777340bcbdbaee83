"""The fast path in production's middleware order (ProxyFix outermost): answers it repeats for
the front page and the count API carry HSTS and the security headers, and plain HTTP is still
sent to HTTPS rather than served from the cache."""
import pytest

from tests.integration.support import make_open, make_user
from tests.security.test_headers import _assert_headers


@pytest.mark.parametrize("path", ["/", "/api/petitions/{id}/count"])
def test_repeated_answers_keep_hsts_and_plain_http_is_redirected(app, production_app, https_client, path):
    calls = []
    production_app.before_request(lambda: calls.append(1))
    path = path.format(id=make_open(app, make_user(app, "owner@example.com")))
    first, again = https_client.get(path), https_client.get(path)
    assert len(calls) == 1  # the second came from the fast path
    assert first.status_code == again.status_code == 200
    assert again.headers.to_wsgi_list() == first.headers.to_wsgi_list()
    _assert_headers(again, path)
    assert "max-age=31536000" in again.headers["Strict-Transport-Security"]
    for _ in range(2):
        plain = production_app.test_client().get(path)
        assert plain.status_code in (301, 302) and plain.headers["Location"].startswith("https://")
