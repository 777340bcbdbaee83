"""`make run` without servers: SQLite files and the in-process Redis (fakeredis with Lua)."""
import pytest
from flask_migrate import upgrade
from sqlalchemy import select

from app import wiring
from app.extensions import db
from app.factory import create_app
from app.repositories.models import Signature
from config.settings import DevelopmentConfig
from tests.helpers import create_draft, launch, logout, register, sign


@pytest.fixture
def embedded_app(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "embedded-test-secret")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'petitions.db'}")
    monkeypatch.setenv("USERS_DATABASE_URL", f"sqlite:///{tmp_path / 'users.db'}")
    monkeypatch.delenv("REDIS_URL", raising=False)
    app = create_app(DevelopmentConfig())
    app.extensions["redis"].flushdb()  # the in-process server outlives one app
    with app.app_context():
        upgrade()
    yield app
    stop = app.extensions.get("persister_stop")
    if stop is not None:
        stop.set()
    with app.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


def test_whole_journey_runs_on_sqlite_and_fakeredis(embedded_app):
    app = embedded_app
    assert type(app.extensions["redis"]).__module__.startswith("fakeredis")
    client = app.test_client()
    register(client, "owner@example.com", "Olive Owner")
    assert "persister_stop" in app.extensions  # the first request started the background persister
    app.extensions["persister_stop"].set()  # the test drains by hand, to assert without waiting

    petition_id = create_draft(client)
    assert launch(client, petition_id).status_code == 302
    assert sign(client, petition_id).status_code == 303
    logout(client)
    register(client, "sam@example.com", "Sam Signer")
    sign(client, petition_id)
    sign(client, petition_id)

    assert client.get(f"/api/petitions/{petition_id}/count").get_json()["signature_count"] == 2
    with app.app_context():
        wiring.persister(consumer="test").drain()
        assert len(db.session.scalars(select(Signature.user_id)).all()) == 2
    page = client.get(f"/petitions/{petition_id}").get_data(as_text=True)
    assert "You signed this petition." in page
