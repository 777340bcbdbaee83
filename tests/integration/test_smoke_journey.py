from tests.helpers import create_draft, launch, register, sign, logout


def test_register_create_launch_and_sign_counts_distinct_signers(app, client):
    register(client, "owner@example.com", "Olive Owner")
    petition_id = create_draft(client)
    assert launch(client, petition_id).status_code == 302
    assert sign(client, petition_id).status_code == 303
    logout(client)

    register(client, "second@example.com", "Sam Second")
    sign(client, petition_id)
    again = sign(client, petition_id)
    page = client.get(again.headers["Location"]).get_data(as_text=True)
    assert "already signed" in page

    count = client.get(f"/api/petitions/{petition_id}/count").get_json()
    assert count == {"id": petition_id, "signature_count": 2}
