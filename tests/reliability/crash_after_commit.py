"""Child process for a failure test: the real persister handles one outbox batch and the process
dies by SIGKILL right after the SQL commit, before the acknowledgement reaches Redis."""
import os
import signal

from app.web import wiring
from app.web.factory import create_app


def main():
    app = create_app()
    with app.app_context():
        persister = wiring.persister(consumer="crashes-after-commit")
        persister.outbox.ack = lambda *args, **kwargs: os.kill(os.getpid(), signal.SIGKILL)
        persister.run_batch()
    raise SystemExit("the outbox was empty: nothing to crash on")


if __name__ == "__main__":
    main()
