"""The alternative to nchan that pushed counts were measured against (`python -m bench --only
fanout`, BENCHMARKS.md): a small async service on a maintained ASGI stack (Starlette on uvicorn)
that holds every watcher's Server-Sent Events stream, fed by one Redis pub/sub subscription per
process.

    REDIS_URL=redis://127.0.0.1:6379/0 uvicorn bench.sse_asgi:app --workers 2 --loop uvloop --http httptools

It keeps the stream's contract (README, `GET /api/petitions/<id>/count/stream`): an EventSource's
request only; at once the latest count, then each count published; a message with "closed" or
"taken_down" is the last, and the stream ends after it. `RedisChannels` is the publishing side,
in place of count_push.NchanChannels.
"""
import asyncio
import contextlib
import logging
import os

import orjson
from redis import asyncio as aioredis
from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

log = logging.getLogger(__name__)

CHANNEL = "count-stream:{}"  # a petition's pub/sub channel
LATEST = "count-stream:{}:latest"  # its latest message, for a new subscriber
LAST_MARKERS = (b'"closed"', b'"taken_down"')


class RedisChannels:
    """The publisher's side: the latest message is kept and published in one round trip."""

    def __init__(self, client):
        self.redis = client

    def publish(self, petition_id, message):
        body = orjson.dumps(message)
        pipe = self.redis.pipeline(transaction=False)
        pipe.set(LATEST.format(int(petition_id)), body, ex=3600)
        pipe.publish(CHANNEL.format(int(petition_id)), body)
        pipe.execute()


class Hub:
    """This process's subscribers per petition, each an asyncio.Queue, and its one subscription."""

    def __init__(self, url):
        self.redis = aioredis.from_url(url)
        self.watchers = {}  # petition id -> set of queues

    async def listen(self):
        """Every published message to the queues of its petition's watchers; Redis being away
        is retried every second (the streams stay open meanwhile)."""
        while True:
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.psubscribe(CHANNEL.format("*"))
                    async for message in pubsub.listen():
                        if message["type"] == "pmessage":
                            petition_id = int(message["channel"].split(b":")[1])
                            for queue in self.watchers.get(petition_id, ()):
                                queue.put_nowait(message["data"])
            except (RedisError, OSError) as exc:
                log.warning("count subscription lost (%s); retrying", exc)
                await asyncio.sleep(1)

    def subscribe(self, petition_id):
        queue = asyncio.Queue()
        self.watchers.setdefault(petition_id, set()).add(queue)
        return queue

    async def events(self, petition_id, queue, latest):
        """`latest`, then each message queued, until the last one."""
        try:
            message = latest
            while True:
                if message is not None:
                    yield b"data: " + message + b"\n\n"
                    if any(marker in message for marker in LAST_MARKERS):
                        return
                message = await queue.get()
        finally:
            watchers = self.watchers.get(petition_id, set())
            watchers.discard(queue)
            if not watchers:
                self.watchers.pop(petition_id, None)


def _error(status, code, message):
    return JSONResponse({"error": {"status": status, "code": code, "message": message}}, status)


async def stream(request):
    if "text/event-stream" not in request.headers.get("accept", ""):
        return _error(406, "not_acceptable", "This is a Server-Sent Events stream: ask for it with "
                                             "Accept: text/event-stream.")
    hub, petition_id = request.app.state.hub, request.path_params["petition_id"]
    queue = hub.subscribe(petition_id)  # before reading the latest, so nothing falls between
    try:
        latest = await hub.redis.get(LATEST.format(petition_id))
    except RedisError:
        latest = None  # the stream still carries the next count
    return StreamingResponse(hub.events(petition_id, queue, latest), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store"})


@contextlib.asynccontextmanager
async def lifespan(app):
    app.state.hub = Hub(os.environ["REDIS_URL"])
    listener = asyncio.create_task(app.state.hub.listen())
    yield
    listener.cancel()


app = Starlette(routes=[Route("/api/petitions/{petition_id:int}/count/stream", stream, methods=["GET"])],
                lifespan=lifespan)
