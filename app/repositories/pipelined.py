"""Signatures a worker holds at the same time share Redis round trips.

The batching gunicorn worker (app/batching_worker.py) runs each request it holds in a greenlet of
its own, inside a ReplyBatch. A call on a PipelinedConnection sends its command at once; inside a
batch it then parks its greenlet instead of blocking on the socket, and the worker reads the
replies in the order the commands went out (one socket read usually brings several) and resumes
each request with its own reply or error. Outside a batch (tests, `flask run`, the Functions
app, a thread of its own) a call reads its reply itself, as any Redis client does.

A reply is only ever read on the socket its command went out on: every (re)connect starts a new
generation, and a reply still owed by an older one is failed as a dropped connection, never
read from the new socket.
"""
import collections
import contextlib
import threading

import greenlet
import redis


class _Current(threading.local):
    batch = None  # the batch this thread's worker is running now


_current = _Current()


class PipelinedConnection:
    def __init__(self, connection):
        self.connection = connection  # a redis-py Connection, with the pool's settings
        self.generation = 0  # bumped at every connect
        self.unread = 0  # commands of this generation whose replies are still to be read

    def call(self, packed_command):
        """Sends one packed command and returns its reply (raising the error reply)."""
        if self.unread == 0:
            self._drop_if_dirty()
        if not self.connection.is_connected:
            self.connection.connect()
            self.generation += 1
        try:
            self.connection.send_packed_command([packed_command], check_health=False)
        except BaseException:
            self.reset()
            raise
        self.unread += 1
        batch = _current.batch
        if batch is not None and greenlet.getcurrent() is not batch.hub:
            return batch.park(self, self.generation)
        return self.read_reply(self.generation)

    def read_reply(self, generation):
        if generation != self.generation or not self.connection.is_connected:
            raise redis.exceptions.ConnectionError("the connection closed before this reply was read")
        try:
            reply = self.connection.read_response()
        except redis.exceptions.ResponseError:
            self.unread -= 1  # an error reply: read, and the connection is fine
            raise
        except BaseException:
            self.reset()
            raise
        self.unread -= 1
        return reply

    def reset(self):
        """Closes the socket: replies still owed on it are failed, never read."""
        self.connection.disconnect()
        self.unread = 0

    def _drop_if_dirty(self):
        """Nothing may wait on an idle connection: a server that closed it (a restart, an idle
        timeout) makes it readable, and the next call reconnects."""
        if not self.connection.is_connected:
            return
        try:
            dirty = self.connection.can_read()
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError):
            dirty = True
        if dirty:
            self.reset()


class ReplyBatch:
    """The requests a worker holds at once. Each runs in a child greenlet of the hub (the worker's
    own); a request that sends a command parks until the hub reads its reply."""

    def __init__(self):
        self.hub = greenlet.getcurrent()
        self.parked = collections.deque()  # (connection, generation, greenlet), in sending order

    def start(self, handle, *args):
        """Runs handle(*args) in a greenlet of its own until it finishes or parks."""
        greenlet.greenlet(handle).switch(*args)

    def park(self, connection, generation):
        self.parked.append((connection, generation, greenlet.getcurrent()))
        return self.hub.switch()

    def resume_next(self):
        """Reads the oldest parked request's reply and resumes it with the reply or the error."""
        connection, generation, waiting = self.parked.popleft()
        try:
            reply = connection.read_reply(generation)
        except BaseException as error:
            waiting.throw(error)
        else:
            waiting.switch(reply)

    def abandon(self):
        """The batch ended before every reply was read (the worker is being stopped): close the
        sockets that still owe replies, so no later call reads one of them as its own."""
        for connection, _, _ in self.parked:
            connection.reset()
        self.parked.clear()


@contextlib.contextmanager
def reply_batch():
    """Makes calls on PipelinedConnections from the hub's child greenlets park in one batch."""
    batch = ReplyBatch()
    _current.batch = batch
    try:
        yield batch
    finally:
        _current.batch = None
        batch.abandon()
