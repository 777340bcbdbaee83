"""gunicorn's sync worker, with signatures that wait on Redis together sharing its round trips.

The sync worker answers one connection at a time and sleeps while a signature's script runs in
Redis. This one runs each connection in a greenlet of its own (app/repositories/pipelined.py):
when every request it holds is waiting on Redis, it takes another connection that is already
waiting (at most MAX_HELD at once) instead of sleeping, and then reads the replies of all of
them in one go. Under a burst that is one round trip, one sleep and one Redis wake-up for
several signatures rather than one each (BENCHMARKS.md). A request that does not wait on Redis
runs to its end before anything else, exactly as in the sync worker, so pages and the API are
answered as before, and with no connection waiting nothing is held back.

Everything else (parsing, the WSGI call, errors, logging) is the sync worker's own `handle`,
called once per connection. Closing differs in one case (`close_when_answered`).
"""
import errno
import socket

from gunicorn import util
from gunicorn.workers.sync import SyncWorker

from app.repositories.pipelined import reply_batch

# Connections held at once while their signatures wait on Redis. More share a round trip
# further but make the first of them wait for the others' checks. Measured at 350 connections
# (BENCHMARKS.md, machine J): 16 signed 9% more a second than 8 with the same p99; 24 and 32
# pushed signing's p99 from about 85 ms to 240-280 ms.
MAX_HELD = 16
_NOTHING_WAITING = (errno.EAGAIN, errno.EWOULDBLOCK, errno.ECONNABORTED)
_graceful_close = util.close_graceful


def close_when_answered(client, *args, **kwargs):
    """Closes a connection at once when nothing the client sent is left unread; otherwise
    gunicorn's graceful close, which half-closes and then waits (up to 2 s) for the client to
    hang up, reading what it still sends, so that unread data does not make the kernel answer
    with a reset that could cost the client its response. With nothing unread, close() itself
    sends the FIN, and the wait held the worker for a wake-up per connection (BENCHMARKS.md,
    "Machines E and F"). Data a client sends after its answer has gone (pipelining) is refused
    with a reset, as with a plain close."""
    if type(client) is socket.socket and not _unread_data(client):
        client.close()
    else:
        _graceful_close(client, *args, **kwargs)


def _unread_data(client):
    try:
        return client.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
    except OSError:  # nothing has come (EAGAIN), or the connection is broken: nothing to wait for
        return False


class BatchingSyncWorker(SyncWorker):
    def init_process(self):
        # The sync worker's `handle` closes through this name; set in this worker's process only.
        util.close_graceful = close_when_answered
        super().init_process()

    def accept(self, listener):
        connection = listener.accept()  # none waiting: the sync worker's loop waits, as before
        with reply_batch() as batch:
            held = 0
            while True:
                if connection is not None:
                    held += 1
                    batch.start(self._handle_connection, listener, *connection)
                if not batch.parked:
                    return  # every request in hand is answered
                connection = self._waiting_connection(listener) if held < MAX_HELD else None
                if connection is None:
                    batch.resume_next()

    def _handle_connection(self, listener, client, address):
        client.setblocking(1)
        util.close_on_exec(client)
        self.handle(listener, client, address)

    def _waiting_connection(self, listener):
        """A connection that is already waiting, or None (none, or the worker is stopping)."""
        if not self.alive:
            return None
        try:
            return listener.accept()
        except OSError as error:
            if error.errno in _NOTHING_WAITING:
                return None
            raise
