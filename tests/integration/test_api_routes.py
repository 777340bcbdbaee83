"""The anonymous JSON read API: shapes, caching headers, ETag/304 and JSON errors."""
from datetime import datetime, timedelta, timezone

import pytest

from app.web import wiring
from tests.integration.support import close_now, make_draft, make_open, make_user

LIST_KEYS = {"id", "title", "state", "signature_count", "launched_at", "closes_at", "url"}
LAUNCHED = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def owner(app):
    return make_user(app, "owner@example.com", "Olive Owner")


@pytest.fixture
def opened(app, owner):
    petition_id = make_open(app, owner, "Protect the village green", days=60, launched_at=LAUNCHED)
    with app.app_context():
        for user in (5, 6):
            wiring.open_store().sign(petition_id, user, (LAUNCHED + timedelta(hours=1)).timestamp())
    return petition_id


def test_list_shape_is_exactly_data_and_meta(client, opened):
    response = client.get("/api/petitions")
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"data", "meta"}
    assert body["meta"] == {"page": 1, "page_size": 50, "total": 1}
    assert body["data"] == [
        {
            "id": opened,
            "title": "Protect the village green",
            "state": "open",
            "signature_count": 2,
            "launched_at": "2026-06-01T12:00:00+00:00",
            "closes_at": "2026-07-31T12:00:00+00:00",
            "url": f"http://localhost/petitions/{opened}",
        }
    ]


def test_detail_adds_body_and_owner(client, opened):
    body = client.get(f"/api/petitions/{opened}").get_json()
    assert set(body) == LIST_KEYS | {"body", "owner", "response", "thresholds", "removed_signatures"}
    assert body["response"] is None and body["removed_signatures"] == 0 and [t["reached"] for t in body["thresholds"]] == [False, False]
    assert body["body"] == "Libraries matter."
    assert body["owner"] == "Olive Owner"
    assert body["signature_count"] == 2


def test_the_server_sends_the_only_date_header(client, opened):
    for path in ("/api/petitions", f"/api/petitions/{opened}", f"/api/petitions/{opened}/count"):
        response = client.get(path)
        assert response.status_code == 200 and "Date" not in response.headers, path


def test_count_shape(client, opened):
    assert client.get(f"/api/petitions/{opened}/count").get_json() == {"id": opened, "signature_count": 2}


def test_closed_petitions_list_and_detail_from_sql(app, client, owner):
    petition_id = make_open(app, owner, "A petition that has closed", launched_at=LAUNCHED)
    close_now(app, petition_id, LAUNCHED + timedelta(days=30), 321)
    make_open(app, owner, "A petition that is still open")
    body = client.get("/api/petitions?state=closed").get_json()
    assert body["meta"]["total"] == 1
    [item] = body["data"]
    assert set(item) == LIST_KEYS
    assert (item["id"], item["state"], item["signature_count"]) == (petition_id, "closed", 321)
    detail = client.get(f"/api/petitions/{petition_id}").get_json()
    assert (detail["state"], detail["signature_count"]) == ("closed", 321)
    assert client.get(f"/api/petitions/{petition_id}/count").get_json()["signature_count"] == 321
    assert client.get("/api/petitions?state=closed&q=still").get_json()["meta"]["total"] == 0


def test_list_sorts_search_and_pages(app, client, owner):
    ids = [make_open(app, owner, f"Petition about trees number {n}", launched_at=LAUNCHED + timedelta(hours=n)) for n in range(3)]
    newest = client.get("/api/petitions?sort=newest").get_json()
    assert [item["id"] for item in newest["data"]] == ids[::-1]
    closing = client.get("/api/petitions?sort=closing&q=TREES").get_json()
    assert [item["id"] for item in closing["data"]] == ids
    empty_page = client.get("/api/petitions?page=2").get_json()
    assert empty_page == {"data": [], "meta": {"page": 2, "page_size": 50, "total": 3}}


@pytest.mark.parametrize("path", ["/api/petitions", "/api/petitions/{id}", "/api/petitions/{id}/count"])
def test_cache_control_and_etag_give_304(client, opened, path):
    path = path.format(id=opened)
    first = client.get(path)
    assert first.headers["Cache-Control"].startswith("public, max-age=")
    assert 0 < int(first.headers["Cache-Control"].split("max-age=")[1]) <= 10
    etag = first.headers["ETag"]
    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""
    assert client.get(path, headers={"If-None-Match": '"stale"'}).status_code == 200
    # The same for every visitor, so a CDN may share it: no Vary on the session cookie.
    assert "cookie" not in first.headers.get("Vary", "").lower()


def test_etag_changes_when_the_count_changes(app, client, opened):
    etag = client.get(f"/api/petitions/{opened}/count").headers["ETag"]
    with app.app_context():
        wiring.open_store().sign(opened, 99, (LAUNCHED + timedelta(hours=2)).timestamp())
    response = client.get(f"/api/petitions/{opened}/count", headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert response.get_json()["signature_count"] == 3


@pytest.mark.parametrize(
    "query",
    ["sort=popular", "state=draft", "page=0", "page=-3", "page=abc", "page=1e3", "page=99999999999999999999", "q=" + "x" * 101],
)
def test_bad_list_parameters_are_400_json(client, query):
    response = client.get("/api/petitions?" + query)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["status"] == 400 and error["code"] == "invalid_input" and error["message"]


@pytest.mark.parametrize("suffix", ["", "/count"])
def test_unknown_id_is_404_json(client, suffix):
    response = client.get(f"/api/petitions/424242{suffix}")
    assert response.status_code == 404
    assert response.get_json()["error"]["message"]
    assert response.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "raw_id",
    ["0", "-1", "abc", "1.5", "2147483648", "99999999999", "9" * 400, "%00", "1%20", "０１", "1e9"],
)
def test_huge_or_malformed_ids_are_404_json_never_500(client, raw_id):
    for suffix in ("", "/count"):
        response = client.get(f"/api/petitions/{raw_id}{suffix}")
        assert response.status_code == 404, (raw_id, suffix)
        assert response.get_json()["error"]["status"] == 404
        # A malformed id and an unknown one look alike to clients.
        assert response.get_json()["error"]["code"] == "not_found"


def test_drafts_are_invisible_to_the_api(app, client, owner):
    draft = make_draft(app, owner)
    assert client.get(f"/api/petitions/{draft}").status_code == 404
    assert client.get(f"/api/petitions/{draft}/count").status_code == 404
    assert client.get("/api/petitions").get_json()["meta"]["total"] == 0


def test_api_errors_are_json_even_for_browsers(client):
    response = client.get("/api/petitions?sort=x", headers={"Accept": "text/html"})
    assert response.status_code == 400 and response.mimetype == "application/json"


def test_write_methods_are_refused_as_json(client, opened):
    response = client.post(f"/api/petitions/{opened}")
    assert response.status_code == 405
    assert response.get_json()["error"]["status"] == 405
    assert response.get_json()["error"]["code"] == "method_not_allowed"
