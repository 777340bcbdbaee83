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


def test_answers_are_kept_per_forwarded_scheme_and_host_and_skip_proxyfix(app, production_app, monkeypatch):
    """The read fast path sits ahead of ProxyFix: a hit must match what Flask answers behind it
    for the same forwarded headers, and one proxy's host or scheme never gets another's."""
    opened = make_open(app, make_user(app, "owner@example.com"))
    calls, parsed = [], []
    production_app.before_request(lambda: calls.append(1))
    proxy_fix = type(production_app.wsgi_app.wsgi_app)
    real_call = proxy_fix.__call__
    monkeypatch.setattr(proxy_fix, "__call__", lambda self, *args: parsed.append(1) or real_call(self, *args))

    def listing(host, proto="https", client_address="203.0.113.7"):
        headers = {"X-Forwarded-Proto": proto, "X-Forwarded-Host": host, "X-Forwarded-For": client_address}
        return production_app.test_client().get("/api/petitions", headers=headers)

    for client_address in ("203.0.113.7", "198.51.100.9"):
        for host in ("petitions.example", "mirror.example"):
            assert listing(host, client_address=client_address).get_json()["data"][0]["url"] == (
                f"https://{host}/petitions/{opened}")
    assert len(calls) == len(parsed) == 2  # one per host; the second client address was a hit
    for _ in range(2):
        plain = listing("petitions.example", proto="http")
        assert plain.status_code in (301, 302) and plain.headers["Location"].startswith("https://petitions.example/")
    assert len(parsed) == 4  # redirects are never kept
