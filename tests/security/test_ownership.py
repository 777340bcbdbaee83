"""Security test 2: another user's draft does not exist for you: 404 on view, edit, delete, launch."""
from app.web.extensions import db
from app.repositories.models import Petition
from tests.helpers import create_draft, csrf_token, logout, register


def test_non_owners_get_404_for_every_draft_action(app, client):
    register(client, "owner@example.com", "Olive Owner")
    draft_id = create_draft(client, title="Owner's private draft title")
    logout(client)

    anonymous = app.test_client()
    for path in (f"/petitions/{draft_id}", f"/api/petitions/{draft_id}", f"/api/petitions/{draft_id}/count"):
        assert anonymous.get(path).status_code == 404, path

    register(client, "other@example.com", "Otto Other")
    token = csrf_token(client, "/")
    attempts = [
        ("GET", f"/petitions/{draft_id}", None),
        ("GET", f"/petitions/{draft_id}/edit", None),
        ("POST", f"/petitions/{draft_id}/edit",
         {"csrf_token": token, "title": "Hijacked petition title", "body": "Mine now", "duration_days": "5"}),
        ("POST", f"/petitions/{draft_id}/delete", {"csrf_token": token}),
        ("POST", f"/petitions/{draft_id}/launch", {"csrf_token": token}),
        ("GET", f"/api/petitions/{draft_id}", None),
    ]
    for method, path, data in attempts:
        response = client.open(path, method=method, data=data)
        assert response.status_code == 404, (method, path, response.status_code)
        assert "Owner's private draft title" not in response.get_data(as_text=True)
    assert "Owner's private draft title" not in client.get("/my/petitions").get_data(as_text=True)

    with app.app_context():
        petition = db.session.get(Petition, draft_id)
        assert (petition.title, petition.state, petition.duration_days) == ("Owner's private draft title", "draft", 30)
