"""Fixtures for the Functions app: its folder on sys.path (as the Functions host does), clients
built from TestConfig, and petitions set up through the same services the web app uses."""
import sys
from pathlib import Path

import pytest

FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "functions_app"
if str(FUNCTIONS_DIR) not in sys.path:
    sys.path.insert(0, str(FUNCTIONS_DIR))

from petition_functions import activities, clients, http, orchestrators, timers  # noqa: E402


@pytest.fixture
def fn_clients(app, monkeypatch, clock):
    """The Functions app's cached clients on the test databases, with the test clock."""
    monkeypatch.setenv("APP_ENV", "test")
    monkeypatch.setenv("TEST_MAIL_DIR", app.config["MAIL_DIR"])  # one mailbox for the app and the Functions app
    clients.reset()
    monkeypatch.setattr(clients, "clock", clock)
    yield clients
    clients.reset()


def registered(blueprint):
    """{function name: the handle the worker would call} for one role blueprint."""
    handles = {}
    for builder in blueprint._function_builders:
        function = builder.build()
        handles[function.get_function_name()] = function.get_user_function()
    return handles


@pytest.fixture(scope="session")
def lifecycle_handles():
    """(orchestrator handle, {activity name: function}), built once: a builder builds once."""
    return registered(orchestrators.bp)["petition_lifecycle"], registered(activities.bp)


@pytest.fixture
def make_petition(app, clock):
    """Creates an owner and launches a petition at the clock's time; returns (petition id, owner id)."""
    from app.web import wiring
    from app.web.extensions import db
    from app.repositories.petitions_sql import PetitionRepository
    from app.services.petitions import PetitionService

    counter = iter(range(1, 1000))

    def make(days=30, title="Protect the town's green spaces for good"):
        n = next(counter)
        with app.app_context():
            owner = wiring.accounts().register(f"owner{n}@example.com", f"Owner {n}", "correct horse battery")
            service = PetitionService(db.session, PetitionRepository(db.session), wiring.open_store(), clock=clock)
            petition = service.create_draft(owner, title, "Green spaces matter to everyone.", days)
            service.launch(petition.id, owner.id)
            return petition.id, owner.id

    return make


@pytest.fixture(scope="session")
def http_handles():
    return registered(http.bp)


@pytest.fixture(scope="session")
def timer_handles():
    return registered(timers.bp)
