"""gunicorn settings file for the failure tests: each worker, once it has loaded the app, leaves a
file named by its PID in $GUNICORN_READY_DIR, so a test knows when every worker can answer."""
import os
from pathlib import Path


def post_worker_init(worker):
    Path(os.environ["GUNICORN_READY_DIR"], str(worker.pid)).touch()
