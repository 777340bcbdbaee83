"""A client that keeps its connection open after reading its answer must not hold the worker:
gunicorn's graceful close would wait up to 2 s for it to hang up. Production's worker class
closes at once when the client has sent nothing more (app/batching_worker.py)."""
import socket

from tests.reliability.load import get_request


def test_a_client_that_stays_connected_does_not_hold_the_only_worker(start_redis, start_gunicorn):
    web = start_gunicorn(start_redis(), workers=1)
    request = f"GET /api/petitions HTTP/1.1\r\nHost: 127.0.0.1:{web.port}\r\nX-Forwarded-Proto: https\r\n\r\n"
    with socket.create_connection(("127.0.0.1", web.port), timeout=5) as lingering:
        lingering.sendall(request.encode())
        answer = b""
        while chunk := lingering.recv(65536):  # read to the server's FIN, then stay connected
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 200 ")
        status, _, elapsed = get_request(web.port, "/api/petitions")
        assert status == 200
        assert elapsed < 1.0, f"the next client waited {elapsed:.2f} s for the worker"
