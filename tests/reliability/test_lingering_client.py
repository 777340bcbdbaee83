"""A client that keeps its connection open after reading its answer must not hold the worker:
gunicorn's sync worker would wait up to 2 s in its graceful close for it to hang up. In
production such a client talks to nginx, which holds the connection and hands gunicorn a
buffered request."""
import socket

from tests.reliability.load import get_request, read_until_closed


def _port(stack):
    return int(stack.url.rsplit(":", 1)[1])


def test_a_client_that_stays_connected_does_not_hold_the_only_worker(start_redis, start_stack):
    port = _port(start_stack(start_redis(), WEB_CONCURRENCY=1))
    # A query string nobody else sends: a cache miss, so each request reaches the worker.
    request = f"GET /api/petitions?lingering=1 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as lingering:
        lingering.sendall(request.encode())
        answer = lingering.recv(65536)  # nginx keeps the connection alive; so does the client
        assert answer.startswith(b"HTTP/1.1 200 ")
        status, _, elapsed = get_request(port, "/api/petitions?next=1")
        assert status == 200
        assert elapsed < 1.0, f"the next client waited {elapsed:.2f} s for the worker"


def test_an_oversized_body_still_gets_its_answer_not_a_reset(start_redis, start_stack):
    """A 2 MB form is refused from its Content-Length without being read, so the body is still
    arriving when the answer goes: the close must not turn it into a reset."""
    port = _port(start_stack(start_redis(), WEB_CONCURRENCY=1))
    body = b"title=" + b"x" * (2 << 20)
    head = (
        f"POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(head)
        try:
            client.sendall(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may stop reading; what matters is the answer
        answer = read_until_closed(client)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
