"""Starting and resuming orchestrations: the HTTP starter and the five-minute sweep.

The Durable extension is not available here, so its client is a small recorder implementing the
three calls the functions make (get_status, start_new, raise_event); everything else is real.
"""
import asyncio
import json
from datetime import timedelta

import azure.durable_functions as df
import azure.functions as func
import pytest
from azure.durable_functions.models.DurableOrchestrationStatus import DurableOrchestrationStatus

Status = df.OrchestrationRuntimeStatus


class RecordingDurableClient:
    def __init__(self, statuses=None):
        self.statuses = statuses or {}
        self.calls = []

    async def get_status(self, instance_id):
        runtime = self.statuses.get(instance_id)
        return DurableOrchestrationStatus(runtimeStatus=runtime.value if runtime else None)

    async def start_new(self, name, instance_id, client_input):
        self.calls.append(("start_new", name, instance_id, client_input))
        return instance_id

    async def raise_event(self, instance_id, name, data=None):
        self.calls.append(("raise_event", instance_id, name))


def user_code(handle):
    """The function under the SDK's durable-client wrapper, which takes the client we pass."""
    return handle.client_function


def start_request(petition_id, token):
    return func.HttpRequest(
        method="POST",
        url=f"https://fn.example.net/api/lifecycle/{petition_id}/start",
        headers={"X-Lifecycle-Token": token} if token else {},
        route_params={"petition_id": str(petition_id)},
        body=b"",
    )


@pytest.fixture
def start(fn_clients, http_handles):
    def call(petition_id, token, client):
        response = asyncio.run(user_code(http_handles["start_lifecycle"])(start_request(petition_id, token), client))
        return response.status_code, json.loads(response.get_body())

    return call


def test_launch_starts_one_orchestration_per_petition(start, fn_clients, make_petition, clock):
    petition_id, _ = make_petition(days=30)
    token = fn_clients.tokens().lifecycle_token(petition_id)
    client = RecordingDurableClient()
    assert start(petition_id, token, client) == (202, {"instance_id": f"petition-{petition_id}", "started": True})
    closes_at = (clock.now + timedelta(days=30)).isoformat()
    assert client.calls == [
        ("start_new", "petition_lifecycle", f"petition-{petition_id}", {"petition_id": petition_id, "closes_at": closes_at})
    ]
    running = RecordingDurableClient({f"petition-{petition_id}": Status.Running})
    assert start(petition_id, token, running) == (200, {"instance_id": f"petition-{petition_id}", "started": False})
    assert running.calls == []


def test_starter_refuses_bad_tokens_unknown_and_closed_petitions(start, fn_clients, make_petition):
    petition_id, _ = make_petition()
    tokens = fn_clients.tokens()
    client = RecordingDurableClient()
    assert start(petition_id, None, client)[0] == 401
    assert start(petition_id, tokens.sign_token(1, petition_id, confirmed=True), client)[0] == 401
    assert start(petition_id, tokens.lifecycle_token(petition_id + 1), client)[0] == 401
    assert start(999, tokens.lifecycle_token(999), client)[0] == 404
    with fn_clients.services() as services:
        services.closing().close(petition_id)
    assert start(petition_id, tokens.lifecycle_token(petition_id), client)[0] == 409
    assert client.calls == []


def test_sweep_resumes_live_orchestrations_and_restarts_lost_ones(fn_clients, timer_handles, make_petition, clock):
    live_id, _ = make_petition(days=1)
    lost_id, _ = make_petition(days=1)
    failed_id, _ = make_petition(days=1)
    not_due_id, _ = make_petition(days=5)
    clock.advance(days=1, minutes=1)
    client = RecordingDurableClient(
        {f"petition-{live_id}": Status.Running, f"petition-{failed_id}": Status.Failed}
    )
    asyncio.run(user_code(timer_handles["close_overdue"])(None, client))
    assert sorted(client.calls, key=str) == sorted(
        [
            ("raise_event", f"petition-{live_id}", "close_now"),
            ("start_new", "petition_lifecycle", f"petition-{lost_id}",
             {"petition_id": lost_id, "closes_at": (clock.now - timedelta(minutes=1)).isoformat()}),
            ("start_new", "petition_lifecycle", f"petition-{failed_id}",
             {"petition_id": failed_id, "closes_at": (clock.now - timedelta(minutes=1)).isoformat()}),
        ],
        key=str,
    )
    assert all(not_due_id != call[-1] for call in client.calls)


def test_sweep_restarts_the_orchestration_of_a_close_that_never_reported(fn_clients, timer_handles, make_petition, clock):
    petition_id, _ = make_petition(days=1)
    clock.advance(days=1)
    with fn_clients.services() as services:
        services.closing().close(petition_id)  # the orchestration then failed before the report
    client = RecordingDurableClient({f"petition-{petition_id}": Status.Failed})
    asyncio.run(user_code(timer_handles["close_overdue"])(None, client))
    assert [call[:3] for call in client.calls] == [("start_new", "petition_lifecycle", f"petition-{petition_id}")]


def test_close_now_endpoint_raises_the_event_on_a_live_orchestration(fn_clients, http_handles, make_petition):
    petition_id, _ = make_petition()
    client = RecordingDurableClient({f"petition-{petition_id}": Status.Running})
    request = func.HttpRequest(
        method="POST",
        url=f"https://fn.example.net/api/lifecycle/{petition_id}/close",
        headers={"X-Lifecycle-Token": fn_clients.tokens().lifecycle_token(petition_id)},
        route_params={"petition_id": str(petition_id)},
        body=b"",
    )
    response = asyncio.run(user_code(http_handles["close_lifecycle_now"])(request, client))
    assert response.status_code == 202
    assert json.loads(response.get_body())["outcome"] == "resumed"
    assert client.calls == [("raise_event", f"petition-{petition_id}", "close_now")]
