"""A Server-Sent Events subscriber for tests: reads one stream in a thread and keeps each event's
data, so a test can wait for a count to arrive or for the stream to end."""
import json
import socket
import threading
import time
from urllib.parse import urlsplit


class Subscriber:
    def __init__(self, url):
        parts = urlsplit(url)
        self.messages = []  # each event's data, parsed as JSON
        self.ended = threading.Event()  # the server closed the stream
        self.status = None
        self._socket = socket.create_connection((parts.hostname, parts.port), timeout=30)
        self._socket.sendall(
            # HTTP/1.0: the stream comes without chunked framing, and ends when nginx closes it.
            f"GET {parts.path} HTTP/1.0\r\nHost: {parts.netloc}\r\nAccept: text/event-stream\r\n\r\n".encode())
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        buffer = b""
        try:
            while chunk := self._socket.recv(65536):
                buffer += chunk
                if self.status is None and b"\r\n\r\n" in buffer:
                    head, buffer = buffer.split(b"\r\n\r\n", 1)
                    self.status = int(head.split(b" ", 2)[1])
                while self.status is not None and b"\n\n" in buffer:
                    event, buffer = buffer.split(b"\n\n", 1)
                    data = [line[5:].strip() for line in event.split(b"\n") if line.startswith(b"data:")]
                    if data and data[0]:
                        self.messages.append(json.loads(b"\n".join(data)))
        except OSError:
            pass
        self.ended.set()

    def counts(self):
        return [m["signature_count"] for m in self.messages]

    def wait_for(self, predicate, timeout=10.0, what="message"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(predicate(m) for m in list(self.messages)):
                return
            time.sleep(0.02)
        raise AssertionError(f"no {what} within {timeout}s; got {self.messages}")

    def close(self):
        self._socket.close()

