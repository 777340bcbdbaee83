"""py-spy over every gunicorn worker of a stack while a load runs: the functions with the most
inclusive samples (what a request spends its time in) and the most samples of their own (where
the CPU goes)."""
import collections
import subprocess
import tempfile
from pathlib import Path

from bench.services import BIN


class Profile:
    """`with Profile(master_pid, seconds) as profile: <load>`; then `profile.top(n)`."""

    def __init__(self, master_pid, seconds, rate=100):
        self.command = [str(BIN / "py-spy"), "record", "--pid", str(master_pid), "--subprocesses",
                        "--format", "raw", "-d", str(seconds), "-r", str(rate), "--nonblocking"]
        self.samples = collections.Counter()
        self.own = collections.Counter()  # samples where the function was the innermost frame
        self.total = 0

    def __enter__(self):
        self._dir = tempfile.TemporaryDirectory(prefix="bench-profile-")
        self.raw = Path(self._dir.name) / "raw.txt"
        self.spy = subprocess.Popen([*self.command, "-o", str(self.raw)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        return self

    def __exit__(self, *exc):
        _, errors = self.spy.communicate()
        try:
            if not self.raw.exists():
                raise RuntimeError(f"py-spy recorded nothing (exit {self.spy.returncode}): {errors.decode()[-500:]}")
            self._count(self.raw.read_text())
        finally:
            self._dir.cleanup()

    def _count(self, raw):
        for line in raw.splitlines():
            stack, _, count = line.rpartition(" ")
            count = int(count)
            self.total += count
            seen, name = set(), None
            for frame in stack.split(";"):
                func, _, where = frame.partition(" (")
                name = f"{func} {where.rsplit('/', 1)[-1].rsplit(':', 1)[0]}"
                if name not in seen and not name.startswith(("process ", "<module>")):
                    seen.add(name)
                    self.samples[name] += count
            if name:
                self.own[name] += count

    def top(self, n=40, own=15):
        """{"inclusive": [(percent of samples, "function file")] for the n functions most often on
        the stack, "own": the same for the `own` functions most often innermost}."""
        def share(counter, k):
            return [(round(100 * count / self.total, 1), name) for name, count in counter.most_common(k)]
        return {"inclusive": share(self.samples, n), "own": share(self.own, own)}
