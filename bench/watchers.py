"""Stream subscribers for the benchmark: COUNT concurrent Server-Sent Events connections to one
petition's pushed-count stream, as that many open petition pages would hold, in a process of its
own (its CPU is then reported apart from the bench's, bench/cpu.py "watchers").

    python -m bench.watchers URL COUNT OUTFILE

Connects in batches (so the listen backlog is never flooded), writes OUTFILE.ready once every
connection has its answer, and records per connection the latest count and when (time.time()) it
arrived. It stops on SIGTERM/SIGINT, on OUTFILE.stop, or once every open stream has the count
written in OUTFILE.final; then writes OUTFILE (JSON) and exits. A failed connection is counted,
never fatal. `Crowd` runs it from the bench.
"""
import argparse
import asyncio
import json
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import uvloop

ROOT = Path(__file__).resolve().parent.parent


# -- the subscriber process -------------------------------------------------------------------
class Stream(asyncio.Protocol):
    """One subscriber. HTTP/1.0, so the stream has no chunked framing: events are separated by a
    blank line and carry `data: {"signature_count": N}`."""

    def __init__(self):
        self.answered = asyncio.get_running_loop().create_future()  # the status, or None if closed first
        self.status = None
        self.count, self.at, self.events = None, None, 0
        self.closed = False
        self.buffer = b""

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        now = time.time()
        self.buffer += data
        if self.status is None:
            head, sep, rest = self.buffer.partition(b"\r\n\r\n")
            if not sep:
                return
            self.status, self.buffer = int(head.split(b" ", 2)[1]), rest
            self.answered.set_result(self.status)
        if b"\n\n" not in self.buffer:
            return
        complete, _, self.buffer = self.buffer.rpartition(b"\n\n")
        for line in complete.split(b"\n"):
            if line.startswith(b"data:") and b"signature_count" in line:  # pings and comments carry none
                count = json.loads(line[5:])["signature_count"]
                self.events += 1
                if count != self.count:
                    self.count, self.at = count, now

    def connection_lost(self, exc):
        self.closed = True
        if not self.answered.done():
            self.answered.set_result(None)


async def _open(loop, host, port, request, timeout, failures):
    """One subscriber with its 200 answer, or None (the reason counted in `failures`)."""
    stream = None
    try:
        _, stream = await asyncio.wait_for(loop.create_connection(Stream, host, port), timeout)
        stream.transport.write(request)
        status = await asyncio.wait_for(asyncio.shield(stream.answered), timeout)
        if status == 200:
            return stream
        reason = f"status {status}" if status else "closed before answering"
    except (OSError, asyncio.TimeoutError) as exc:
        reason = type(exc).__name__ + (f" errno {exc.errno}" if getattr(exc, "errno", None) else "")
    if stream is not None:
        stream.transport.abort()
    failures[reason] = failures.get(reason, 0) + 1
    return None


def _write(path, payload):
    """Whole or not at all: the reader polls for the file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload))
    tmp.replace(path)


async def watch(url, count, outfile, batch=500, timeout=30.0):
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # one descriptor per subscriber
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    parts = urlsplit(url)
    request = (f"GET {parts.path} HTTP/1.0\r\nHost: {parts.netloc}\r\n"
               "Accept: text/event-stream\r\n\r\n").encode()
    streams, failures = [], {}
    started = time.time()
    for start in range(0, count, batch):  # a batch at a time, each answered before the next
        if stop.is_set():
            break
        opened = await asyncio.gather(*(_open(loop, parts.hostname, parts.port, request, timeout, failures)
                                        for _ in range(min(batch, count - start))))
        streams += [s for s in opened if s is not None]
    ready_s = time.time() - started
    _write(Path(f"{outfile}.ready"), {"connected": len(streams), "failed": sum(failures.values()),
                                      "seconds": ready_s})
    final_file, stop_file = Path(f"{outfile}.final"), Path(f"{outfile}.stop")
    final = None
    while not stop.is_set() and not stop_file.exists():
        if final is None and final_file.exists():
            final = int(final_file.read_text())
        if final is not None and all(s.count == final for s in streams if not s.closed):
            break
        try:
            await asyncio.wait_for(stop.wait(), 0.05)
        except asyncio.TimeoutError:
            pass
    _write(Path(outfile), {
        "url": url, "requested": count, "connected": len(streams), "failed": sum(failures.values()),
        "failures": failures, "closed_early": sum(s.closed for s in streams), "connect_seconds": ready_s,
        "events": sum(s.events for s in streams),
        "streams": [[s.count, s.at] for s in streams],  # per subscriber: latest count, when it came
    })
    for s in streams:
        s.transport.abort()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.watchers", description=__doc__.splitlines()[0])
    parser.add_argument("url", help="the stream, e.g. http://127.0.0.1:5450/api/petitions/7/count/stream")
    parser.add_argument("count", type=int)
    parser.add_argument("outfile")
    parser.add_argument("--batch", type=int, default=500, help="connections opened at once (default 500)")
    args = parser.parse_args(argv)
    # uvloop: the stand-in for the watchers' browsers takes as little of this machine as it can
    uvloop.run(watch(args.url, args.count, args.outfile, args.batch))


# -- from the bench -----------------------------------------------------------------------------
def rss_bytes(pid):
    """VmRSS of `pid`, 0 if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def children(pid):
    """The pids whose parent is `pid` (nginx's or uvicorn's workers)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if int(text[text.rindex(")") + 2:].split()[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def tree_rss_bytes(pid):
    """VmRSS of `pid` and its children (nginx: the master and its workers)."""
    return rss_bytes(pid) + sum(map(rss_bytes, children(pid)))


class Crowd:
    """`with Crowd(url, count, workdir) as crowd:` the subscriber process, every connection
    answered; `crowd.finish(final)` then stops it and returns its OUTFILE."""

    def __init__(self, url, count, workdir, ready_timeout=300.0):
        self.count = count
        folder = Path(tempfile.mkdtemp(prefix="watchers-", dir=workdir))
        self.out, self.log = folder / "watchers.json", folder / "watchers.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "bench.watchers", url, str(count), str(self.out)],
                                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + ready_timeout
        ready = Path(f"{self.out}.ready")
        while not ready.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"watchers not connected: {self.log.read_text()[-2000:]}")
            time.sleep(0.05)
        self.ready = json.loads(ready.read_text())

    def rss(self):
        return rss_bytes(self.process.pid)

    def finish(self, final, timeout=5.0):
        """Stops once every stream has `final`, or after `timeout` s; returns its OUTFILE."""
        _write(Path(f"{self.out}.final"), final)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(30)
        if not self.out.exists():
            raise RuntimeError(f"watchers wrote no results: {self.log.read_text()[-2000:]}")
        return json.loads(self.out.read_text())

    def close(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


if __name__ == "__main__":
    main()
