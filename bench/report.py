"""Collects results, prints the summary table and writes bench/results/<stamp>-<mode>.json."""
import json
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


class Results:
    def __init__(self, mode):
        self.mode = mode
        self.started = datetime.now(timezone.utc)
        self.rows = []
        self.extra = {}  # detail for the JSON only (every run behind a median)

    def add(self, group, name, **fields):
        self.rows.append({"group": group, "name": name, **fields})

    def names(self):
        return {f"{row['group']}/{row['name']}" for row in self.rows}

    def write(self, meta):
        RESULTS_DIR.mkdir(exist_ok=True)
        path = RESULTS_DIR / f"{self.started:%Y%m%dT%H%M%SZ}-{self.mode}.json"
        payload = {
            "mode": self.mode,
            "started": self.started.isoformat(),
            "machine": {"cpus": _cpus(), "python": platform.python_version(), "load": _load()},
            **meta,
            "results": self.rows,
            **self.extra,
        }
        path.write_text(json.dumps(payload, indent=2, default=str))
        return path

    def table(self):
        lines = [f"{'scenario':<48} figures", "-" * 100]
        for row in self.rows:
            figures = ", ".join(
                f"{k}={_fmt(v)}" for k, v in row.items() if k not in ("group", "name")
            )
            lines.append(f"{row['group'] + '/' + row['name']:<48} {figures}")
        return "\n".join(lines)


def _fmt(value):
    if isinstance(value, float):
        return f"{value:,.3f}" if value < 10 else f"{value:,.1f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _cpus():
    import os

    return os.cpu_count()


def _load():
    try:
        return Path("/proc/loadavg").read_text().split()[:3]
    except OSError:
        return None


def stamp():
    return time.strftime("%H:%M:%S")


def markdown(path):
    """The summary rows of a results file as a Markdown table (for BENCHMARKS.md)."""
    payload = json.loads(Path(path).read_text())
    lines = ["| scenario | figures |", "| --- | --- |"]
    for row in payload["results"]:
        figures = ", ".join(f"{k}={_fmt(v)}" for k, v in row.items() if k not in ("group", "name"))
        lines.append(f"| {row['group']}/{row['name']} | {figures} |")
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    print(markdown(sys.argv[1]))
