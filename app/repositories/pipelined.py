"""Signatures a worker holds at the same time share Redis round trips.

The batching gunicorn worker (app/batching_worker.py) runs each request it holds in a greenlet of
its own, inside a ReplyBatch. Inside a batch, a call on a PipelinedConnection queues its command
and parks its greenlet instead of sending and blocking on the socket. When the worker has
nothing else to run, it sends the queued commands in one write, reads the replies in the order
the commands were queued (one socket read usually brings several) and resumes each request with
its own reply or error. So a batch costs one send, one wait and one Redis wake-up, not one each.
Outside a batch (tests, `flask run`, the Functions app, a thread of its own) a call sends and
reads its reply itself, as any Redis client does.

A reply is only ever read on the socket its command went out on: every (re)connect starts a new
generation, and a reply still owed by an older one is failed as a dropped connection, never
read from the new socket. Commands queued when the connection drops are never sent, so those
requests fail the same way, with nothing recorded.
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
        self.outgoing = []  # parked requests' commands, sent together when the batch waits

    def call(self, packed_command):
        """Sends one packed command (in a batch: when the batch waits) and returns its reply,
        raising the error reply."""
        if self.unread == 0:
            self._drop_if_dirty()
        if not self.connection.is_connected:
            self.connection.connect()
            self.generation += 1
        self.unread += 1
        batch = _current.batch
        if batch is not None and greenlet.getcurrent() is not batch.hub:
            self.outgoing.append(packed_command)
            return batch.park(self, self.generation)
        self._send([packed_command])
        return self.read_reply(self.generation)

    def flush(self):
        """Sends the parked requests' commands in one write."""
        if self.outgoing:
            commands, self.outgoing = self.outgoing, []
            self._send(commands)

    def _send(self, commands):
        try:
            self.connection.send_packed_command([b"".join(commands)], check_health=False)
        except BaseException:
            self.reset()
            raise

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
        """Closes the socket: replies still owed on it are failed, never read, and commands
        not yet sent are dropped (they fail the same way: nothing was recorded)."""
        self.connection.disconnect()
        self.unread = 0
        self.outgoing = []

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
        """Sends what is queued, reads the oldest parked request's reply and resumes it with the
        reply or the error."""
        connection, generation, waiting = self.parked.popleft()
        try:
            connection.flush()
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
