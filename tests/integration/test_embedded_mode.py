"""`make run` without servers: SQLite files and the in-process Redis (fakeredis with Lua)."""
import time

import pytest
from flask_migrate import upgrade
from sqlalchemy import select

from app.web import wiring
from app.web.extensions import db
from app.web.factory import create_app
from app.repositories.models import Petition, Signature
from app.services.mail import read_mail_dir
from config.settings import DevelopmentConfig
from tests.helpers import create_draft, csrf_token, launch, logout, register, sign


@pytest.fixture
def embedded_app(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "embedded-test-secret")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'petitions.db'}")
    monkeypatch.setenv("USERS_DATABASE_URL", f"sqlite:///{tmp_path / 'users.db'}")
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("MAIL_DIR", str(tmp_path / "mail"))
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
    register(client, "owner@example.com", "Olive Owner")  # confirmed by the link in MAIL_DIR
    assert "owner@example.com" in client.get("/dev/mail").get_data(as_text=True)
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
    app.extensions["history_cache"].clock = lambda: time.monotonic() + 60  # past the page's copy
    page = client.get(f"/petitions/{petition_id}").get_data(as_text=True)
    assert "peak 2 in an hour" in page  # the chart of signatures over time, from SQLite's hours
    history = client.get(f"/api/petitions/{petition_id}/history?interval=day").get_json()
    assert history["signature_count"] == 2 and history["data"][-1]["total"] == 2


def test_the_mail_job_runs_on_sqlite_and_writes_to_the_mail_folder(embedded_app):
    app = embedded_app
    app.config["RESPONSE_THRESHOLD"] = 1
    client = app.test_client()
    register(client, "owner@example.com", "Olive Owner")
    petition_id = create_draft(client)
    launch(client, petition_id)
    sign(client, petition_id)
    with app.app_context():
        assert wiring.mail_job().run_once().sent == 1
        assert wiring.mail_job().run_once().sent == 0
    subjects = [m.subject for m in read_mail_dir(app.config["MAIL_DIR"])]
    assert subjects.count("Your petition has reached 1 signatures") == 1


def run_cli(app, *args):
    with app.app_context():
        return app.test_cli_runner().invoke(args=list(args))


@pytest.mark.parametrize(
    "command", [("signatures", "persist", "--once"), ("signatures", "lag"), ("redis", "rebuild"), ("petitions", "close-due"),
                ("counts", "publish")]
)
def test_commands_that_need_the_sites_redis_refuse_and_say_why(embedded_app, command):
    result = run_cli(embedded_app, *command)
    assert result.exit_code != 0
    assert "embedded in-process Redis" in result.output and "REDIS_URL" in result.output


def test_early_close_is_requested_and_the_running_sites_sweep_carries_it_out(embedded_app):
    app = embedded_app
    client = app.test_client()
    register(client, "owner@example.com", "Olive Owner")
    petition_id = create_draft(client)
    launch(client, petition_id)
    sign(client, petition_id)

    result = run_cli(app, "petitions", "close", str(petition_id))
    assert result.exit_code == 0, result.output
    assert "requested" in result.output
    with app.app_context():
        assert db.session.get(Petition, petition_id).state == "open"  # not yet: the site closes it

        closed, failed = wiring.close_coordinator().close_due()
        assert [r.petition_id for r in closed] == [petition_id] and not failed
    page = client.get(f"/petitions/{petition_id}").get_data(as_text=True)
    assert "final count" in page
    refused = client.post(
        f"/petitions/{petition_id}/sign", data={"csrf_token": csrf_token(client, f"/petitions/{petition_id}")}
    )
    assert refused.status_code == 409
    assert client.get(f"/api/petitions/{petition_id}").get_json()["state"] == "closed"
