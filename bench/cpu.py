"""CPU used by each kind of process on this machine while a load runs, from /proc: says which
piece (the app's workers, nginx, Redis, PostgreSQL, the persister, the count publisher, the load
generators) a figure is limited by."""
import os
import time
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
# The start of /proc/<pid>/comm -> the group it is reported under; anything else is "other".
GROUPS = (("gunicorn", "app"), ("nginx", "nginx"), ("redis-server", "redis"), ("postgres", "postgres"),
          ("wrk", "wrk"), ("flask", "persister"), ("python", "bench+wrk"))
# Several commands share the comm "flask" or "python": these are told apart by their command line.
COMMANDS = (("counts publish", "publisher"), ("bench.watchers", "watchers"))


def _group(pid, comm):
    if comm.startswith(("flask", "python")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            cmdline = b""
        if group := next((g for needle, g in COMMANDS if needle.encode() in cmdline), None):
            return group
    return next((group for prefix, group in GROUPS if comm.startswith(prefix)), "other")


def _ticks():
    """{pid: (group, user+system ticks)} of every process readable now."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # gone since the listing
            continue
        comm = text[text.index("(") + 1:text.rindex(")")]
        fields = text[text.rindex(")") + 2:].split()
        # utime + stime + cutime + cstime: a child that ended and was waited for (each wrk run,
        # the bench's child) still counts, under its parent's group
        pid = int(stat.parent.name)
        found[pid] = (_group(pid, comm), sum(map(int, fields[11:15])))
    return found


class CpuSampler:
    """`with CpuSampler() as cpu: <load>`; then `cpu.shares`: {group: percent of one core}, averaged
    over the load (a process that started during it counts from zero)."""

    def __enter__(self):
        self.start, self.started = _ticks(), time.monotonic()
        return self

    def __exit__(self, *exc):
        seconds = time.monotonic() - self.started
        used = {}
        for pid, (group, ticks) in _ticks().items():
            used[group] = used.get(group, 0) + ticks - self.start.get(pid, (group, 0))[1]
        self.shares = {group: round(100 * t / TICKS / seconds) for group, t in sorted(used.items()) if t > 0}
