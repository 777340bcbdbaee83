"""Requests whose framing two HTTP parsers could read differently (the stuff of request
smuggling through a proxy) are refused by the production server before the app sees them, and
nothing hidden inside them is answered. Run against gunicorn with production's worker class
and HTTP parser."""
import socket

from tests.reliability.load import read_until_closed

HIDDEN = b"GET /api/petitions HTTP/1.1\r\nHost: hidden\r\n\r\n"
FORM = b"a=bc"  # 4 bytes

# name -> the request's head (its first line and headers) and what follows it
AMBIGUOUS = {
    "Content-Length with Transfer-Encoding": (
        b"POST /auth/login HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked", b"0\r\n\r\n" + HIDDEN),
    "two Content-Lengths": (b"POST /auth/login HTTP/1.1\r\nContent-Length: 4\r\nContent-Length: 40", FORM + HIDDEN),
    "a Content-Length list": (b"POST /auth/login HTTP/1.1\r\nContent-Length: 4, 4", FORM + HIDDEN),
    "a signed Content-Length": (b"POST /auth/login HTTP/1.1\r\nContent-Length: +4", FORM + HIDDEN),
    "a space before the colon": (b"POST /auth/login HTTP/1.1\r\nContent-Length : 4", FORM + HIDDEN),
    "an unknown transfer coding": (b"POST /auth/login HTTP/1.1\r\nTransfer-Encoding: xchunked", b"0\r\n\r\n" + HIDDEN),
    "chunked on HTTP/1.0": (b"POST /auth/login HTTP/1.0\r\nTransfer-Encoding: chunked", b"0\r\n\r\n" + HIDDEN),
    "a chunk size with 0x": (b"POST /auth/login HTTP/1.1\r\nTransfer-Encoding: chunked", b"0x4\r\na=bc\r\n0\r\n\r\n" + HIDDEN),
    "a folded header line": (b"GET /api/petitions HTTP/1.1\r\nX-Note: a\r\n b", HIDDEN),
    "a NUL in a header value": (b"GET /api/petitions HTTP/1.1\r\nX-Note: a\x00b", HIDDEN),
}


def _send(port, head, rest):
    request = head + f"\r\nHost: 127.0.0.1:{port}\r\nX-Forwarded-Proto: https\r\n\r\n".encode() + rest
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(request)
        return read_until_closed(client)


def test_ambiguous_framing_is_refused_and_nothing_hidden_is_answered(start_redis, start_gunicorn):
    web = start_gunicorn(start_redis(), workers=1)
    answers = {name: _send(web.port, head, rest) for name, (head, rest) in AMBIGUOUS.items()}
    accepted = {
        name: answer[:60] for name, answer in answers.items()
        if not answer.startswith((b"HTTP/1.1 400 ", b"HTTP/1.1 501 ")) or answer.count(b"HTTP/1.1 ") != 1
    }
    assert not accepted, accepted
    # The same server answers a well-framed request.
    plain = _send(web.port, b"GET /api/petitions HTTP/1.1\r\nConnection: close", b"")
    assert plain.startswith(b"HTTP/1.1 200 ")
