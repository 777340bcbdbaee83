"""A client that keeps its connection open after reading its answer must not hold the worker:
gunicorn's graceful close would wait up to 2 s for it to hang up. Production's worker class
closes at once when the client has sent nothing more (app/batching_worker.py)."""
import socket

from tests.reliability.load import get_request, read_until_closed


def test_a_client_that_stays_connected_does_not_hold_the_only_worker(start_redis, start_gunicorn):
    web = start_gunicorn(start_redis(), workers=1)
    request = (
        f"GET /api/petitions HTTP/1.1\r\nHost: 127.0.0.1:{web.port}\r\nX-Forwarded-Proto: https\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", web.port), timeout=5) as lingering:
        lingering.sendall(request.encode())
        answer = read_until_closed(lingering)  # to the server's FIN; the client stays connected
        assert answer.startswith(b"HTTP/1.1 200 ")
        status, _, elapsed = get_request(web.port, "/api/petitions")
        assert status == 200
        assert elapsed < 1.0, f"the next client waited {elapsed:.2f} s for the worker"


def test_an_oversized_body_still_gets_its_answer_not_a_reset(start_redis, start_gunicorn):
    """The app refuses a 2 MB form from its Content-Length without reading it, so the body is
    still arriving when the answer goes: the close must not turn it into a reset."""
    web = start_gunicorn(start_redis(), workers=1)
    body = b"title=" + b"x" * (2 << 20)
    head = (
        f"POST /login HTTP/1.1\r\nHost: 127.0.0.1:{web.port}\r\nX-Forwarded-Proto: https\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", web.port), timeout=5) as client:
        client.sendall(head)
        try:
            client.sendall(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may stop reading; what matters is the answer
        answer = read_until_closed(client)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
