"""Seeds users and open petitions straight into SQL and Redis, mints signed-in browser sessions,
and drives signatures through gunicorn from many threads, one connection per request.

Registering 20,000 accounts through argon2 would take minutes, so users are inserted directly and
their session cookies are minted with the app's own serializer: the requests the server sees are
exactly what a signed-in browser sends (session cookie, CSRF token, HTTPS via the proxy headers).
"""
import queue
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlencode

from flask import session
from flask_wtf.csrf import generate_csrf
from sqlalchemy import insert, select

from app.domain.petitions import utcnow
from app.web.extensions import db
from app.repositories.models import Petition, User
from app.services.documents import open_document


def seed(app, users, petitions, open_in_redis=True):
    """Inserts `users` accounts and `petitions` open petitions; returns (user ids, petition ids).
    With open_in_redis the petitions are also written through to Redis, as a launch does."""
    now = utcnow()
    with app.app_context():
        db.session.execute(
            insert(User),
            [
                {"email": f"load{i}@example.com", "display_name": f"Load {i}",
                 "password_hash": "not-a-login-account", "session_token": f"token{i:08d}",
                 "email_confirmed_at": now}
                for i in range(users)
            ],
        )
        db.session.execute(
            insert(Petition),
            [
                {"owner_id": 1, "owner_name": "Load 0", "title": f"Load test petition number {i}",
                 "body": "Signed by the reliability tests.", "duration_days": 30, "state": "open",
                 "launched_at": now, "closes_at": now + timedelta(days=30)}
                for i in range(petitions)
            ],
        )
        db.session.commit()
        user_ids = db.session.scalars(select(User.id).order_by(User.id)).all()
        rows = db.session.scalars(select(Petition).order_by(Petition.id)).all()
        if open_in_redis:
            store = app.extensions["open_store"]
            for petition in rows:
                store.put_open(open_document(petition))
            store.mark_ready(now.isoformat())
        return list(user_ids), [p.id for p in rows]


def mint_sessions(app, user_ids):
    """{user id: (session cookie value, CSRF token)} as the login page would have set them."""
    serializer = app.session_interface.get_signing_serializer(app)
    with app.app_context():
        tokens = dict(db.session.execute(select(User.id, User.session_token)).all())
    sessions = {}
    for uid in user_ids:
        with app.test_request_context(base_url="https://127.0.0.1/"):
            session["_user_id"] = f"{uid}:{tokens[uid]}"
            session["_fresh"] = True
            token = generate_csrf()
            sessions[uid] = (serializer.dumps(dict(session)), token)
    return sessions


def sign_request(port, browser_session, petition_id, user_id):
    """One POST /petitions/<id>/sign as a signed-in browser behind the TLS proxy: (status, raw
    answer, seconds). Built and read by hand on its own connection (gunicorn's sync workers close
    after each answer): http.client's parsing would cost the shared CPU more than the server."""
    cookie, token = browser_session
    body = urlencode({"csrf_token": token})
    request = (
        f"POST /petitions/{petition_id}/sign HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        f"Cookie: session={cookie}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n"
        "X-Forwarded-Proto: https\r\n"
        f"X-Forwarded-For: 10.0.{user_id % 250}.{user_id // 250 % 250}\r\n"
        f"Referer: https://127.0.0.1:{port}/petitions/{petition_id}\r\n"
        "Connection: close\r\n\r\n"
        f"{body}"
    ).encode()
    return _exchange(port, request)


def get_request(port, path):
    """GET `path` as an anonymous browser behind the TLS proxy: (status, raw answer, seconds)."""
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Forwarded-Proto: https\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    return _exchange(port, request)


def read_until_closed(sock):
    """Everything the server sends until it closes its side."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _exchange(port, request):
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        answer = read_until_closed(sock)
    elapsed = time.monotonic() - started
    if not answer.startswith(b"HTTP/1.1 "):
        raise ConnectionResetError("no HTTP answer")
    return int(answer[9:12]), answer, elapsed


def signed_outcome(answer):
    """What the answer's redirect tells the petition page to thank the signer for ("new" or
    "again"), or None."""
    match = re.search(rb"\r\nLocation: [^\r]*[?&]signed=(\w+)", answer)
    return match.group(1).decode() if match else None


@dataclass
class Outcome:
    acknowledged: set = field(default_factory=set)  # (petition, user) answered 303
    acknowledged_spans: list = field(default_factory=list)  # (sent, answered) monotonic times of each 303
    statuses: dict = field(default_factory=dict)  # status -> how many answers
    unavailable_seconds: list = field(default_factory=list)  # time to each 503 answer
    connection_errors: int = 0
    gave_up: list = field(default_factory=list)  # pairs never acknowledged


class SignDriver:
    """Signs each (petition, user) pair through POST /petitions/<id>/sign.

    A 503 is the app saying "nothing recorded, safe to retry", so the pair goes back on the queue
    (up to `retries` times); a dropped connection is retried the same way. Only 303 counts as
    acknowledged."""

    def __init__(self, port, sessions, threads=32, retries=200, retry_pause=0.05):
        self.port = port
        self.sessions = sessions
        self.threads = threads
        self.retries = retries
        self.retry_pause = retry_pause
        self.outcome = Outcome()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.answered = 0

    def run(self, pairs, on_progress=None):
        """Signs every pair; `on_progress(answered)` is called from one thread as answers arrive."""
        work = queue.Queue()
        for pair in pairs:
            work.put((pair, 0))
        # Daemon threads told to stop if the test ends early (a failure or timeout): a driver left
        # running would otherwise sign against whatever server next takes the port.
        workers = [threading.Thread(target=self._worker, args=(work,), daemon=True) for _ in range(self.threads)]
        try:
            for worker in workers:
                worker.start()
            if on_progress:
                while any(w.is_alive() for w in workers):
                    on_progress(self.answered)
                    time.sleep(0.01)
            for worker in workers:
                worker.join()
        finally:
            self._stop.set()
        return self.outcome

    def _worker(self, work):
        while not self._stop.is_set():
            try:
                pair, tries = work.get_nowait()
            except queue.Empty:
                break
            sent = time.monotonic()
            try:
                status, elapsed = self.sign(*pair)
            except OSError:
                status, elapsed = None, None
            if self._record(pair, tries, status, elapsed, work, sent):
                time.sleep(self.retry_pause)

    def sign(self, petition_id, user_id):
        status, answer, elapsed = sign_request(self.port, self.sessions[user_id], petition_id, user_id)
        if status == 503:  # from the app, or from nginx when an app server is gone
            assert b"not recorded, it is safe to try again" in answer or b"It is safe to try again" in answer, answer[:500]
        return status, elapsed

    def _record(self, pair, tries, status, elapsed, work, sent):
        with self._lock:
            self.answered += 1
            if status is None:
                self.outcome.connection_errors += 1
            else:
                self.outcome.statuses[status] = self.outcome.statuses.get(status, 0) + 1
            if status == 303:
                self.outcome.acknowledged.add(pair)
                self.outcome.acknowledged_spans.append((sent, sent + elapsed))
                return False
            if status == 503:
                self.outcome.unavailable_seconds.append(elapsed)
            if status in (None, 503) and tries < self.retries:
                work.put((pair, tries + 1))
                return True
            self.outcome.gave_up.append((pair, status))
        return False
