"""The batching gunicorn worker on real sockets and the real Redis: connections whose requests wait
on Redis are held together and answered from one shared wait; a request that does not wait on
Redis is answered before another connection is taken."""
import os
import socket
import threading
from datetime import datetime, timezone

import pytest
from gunicorn.config import Config
from gunicorn.glogging import Logger

from app.batching_worker import MAX_HELD, BatchingSyncWorker, close_when_answered
from app.repositories import redis_keys as keys
from app.repositories.open_petitions import OpenPetitionStore
from tests.integration.support import transient_document

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def store(redis_client):
    store = OpenPetitionStore(redis_client)
    store.put_open(transient_document(1, "A petition", NOW, 30))
    return store


@pytest.fixture
def listener():
    sock = socket.create_server(("127.0.0.1", 0), backlog=64)
    sock.setblocking(False)  # as gunicorn leaves its listeners in a worker
    yield sock
    sock.close()


def signing_app(store):
    """/sign/<user>: signs petition 1 and answers with the outcome and the outbox length Redis
    held when the answer came back; any other path answers without Redis."""
    def app(environ, start_response):
        path = environ["PATH_INFO"]
        if path.startswith("/sign/"):
            status, count = store.sign(1, int(path.rsplit("/", 1)[1]), NOW.timestamp())
            body = f"{status} {count} {store.redis.xlen(keys.OUTBOX)}"
        else:
            body = "plain"
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body.encode()]

    return app


def make_worker(listener, app):
    cfg = Config()
    worker = BatchingSyncWorker(0, os.getppid(), [listener], None, 30, cfg, Logger(cfg))
    worker.wsgi = app
    return worker


class Client(threading.Thread):
    """Connects and sends its request at once (so it waits in the listener's backlog), then
    reads the answer until the server closes."""

    def __init__(self, port, path):
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
        self.answer = b""
        self.start()

    def run(self):
        while chunk := self.sock.recv(4096):
            self.answer += chunk
        self.sock.close()

    def body(self, timeout=5):
        self.join(timeout)
        return self.answer.partition(b"\r\n\r\n")[2].decode()


def test_signers_waiting_together_share_one_wait_and_get_their_own_answers(store, listener):
    port = listener.getsockname()[1]
    clients = [Client(port, f"/sign/{uid}") for uid in (501, 502, 501, 503)]
    make_worker(listener, signing_app(store)).accept(listener)
    # Each answer: status and count of its own attempt; every script had run before any answer
    # was read (4 attempts, 3 new signers in the outbox).
    assert [c.body() for c in clients] == ["1 1 3", "1 2 3", "0 2 3", "1 3 3"]


def test_at_most_max_held_connections_are_taken_at_once(store, listener):
    port = listener.getsockname()[1]
    clients = [Client(port, f"/sign/{600 + n}") for n in range(MAX_HELD + 2)]
    worker = make_worker(listener, signing_app(store))
    worker.accept(listener)
    answered = [c.body(timeout=0.5) for c in clients[:MAX_HELD]]
    assert {body.split()[2] for body in answered} == {str(MAX_HELD)}
    assert all(c.is_alive() for c in clients[MAX_HELD:])  # still waiting for the next accept
    worker.accept(listener)
    assert [c.body() for c in clients[MAX_HELD:]] == [f"1 {MAX_HELD + 1} {MAX_HELD + 2}", f"1 {MAX_HELD + 2} {MAX_HELD + 2}"]


def test_a_request_that_does_not_wait_on_redis_is_answered_alone(store, listener):
    port = listener.getsockname()[1]
    plain, signer = Client(port, "/plain"), Client(port, "/sign/501")
    worker = make_worker(listener, signing_app(store))
    worker.accept(listener)
    assert plain.body() == "plain"
    assert signer.is_alive()  # not taken: the sync worker's one-at-a-time for such requests
    worker.accept(listener)
    assert signer.body() == "1 1 1"


@pytest.fixture
def connection(listener):
    """A client socket and the server's end of its connection, the request read by the server."""
    client = socket.create_connection(listener.getsockname())
    client.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    listener.setblocking(True)
    server, _ = listener.accept()
    server.recv(4096)
    yield client, server
    client.close()
    server.close()


def close_in_background(server):
    closing = threading.Thread(target=close_when_answered, args=(server,), daemon=True)
    closing.start()
    return closing


def test_a_connection_with_nothing_unread_is_closed_without_waiting_for_the_client(connection):
    client, server = connection
    closing = close_in_background(server)
    closing.join(timeout=1)  # gunicorn's graceful close would wait 2 s for the client's FIN
    assert not closing.is_alive()
    assert server.fileno() == -1
    client.settimeout(1)
    assert client.recv(4096) == b""  # the client sees the end of the answer while still open


def test_a_connection_with_unread_data_waits_for_the_client_to_hang_up(connection):
    client, server = connection
    client.sendall(b"GET /pipelined HTTP/1.1\r\nHost: localhost\r\n\r\n")
    threading.Event().wait(0.1)  # on loopback the bytes are in the server's buffer by now
    closing = close_in_background(server)
    closing.join(timeout=0.5)
    assert closing.is_alive()  # still reading what the client sends, so it gets no reset
    client.sendall(b"more")
    client.settimeout(1)
    assert client.recv(4096) == b""  # a FIN, not ConnectionResetError
    client.shutdown(socket.SHUT_WR)
    closing.join(timeout=2)
    assert not closing.is_alive()
