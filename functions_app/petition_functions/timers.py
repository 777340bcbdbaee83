"""Timer triggers: the close sweep (safety net for lost orchestrations), outbox persistence and
the mail job."""
import logging
import os
import socket

import azure.durable_functions as df
import azure.functions as func

from petition_functions import clients, lifecycle

log = logging.getLogger(__name__)
bp = df.Blueprint()

PERSIST_MAX_BATCHES = 20  # one run handles at most 20 batches so it ends before the next tick


@bp.timer_trigger(schedule="0 */5 * * * *", arg_name="timer", run_on_startup=False)
@bp.durable_client_input(client_name="client")
async def close_overdue(timer: func.TimerRequest, client) -> None:
    """Every 5 minutes: open petitions past their deadline, and closed ones whose report or
    notification never happened (a failed orchestration), get their close started or resumed."""
    with clients.services() as services:
        services.replay_invalidations()
        due = services.closing().needing_close()
        for petition in due:
            services.session.expunge(petition)
    for petition in due:
        outcome = await lifecycle.ensure_closing(client, petition)
        log.info("sweep: petition %s past its deadline, close %s", petition.id, outcome)


@bp.timer_trigger(schedule="*/15 * * * * *", arg_name="timer", run_on_startup=False)
def persist_signatures(timer: func.TimerRequest) -> None:
    """Every 15 seconds: copy signatures from the Redis outbox into SQL, in batches."""
    consumer = f"functions-{socket.gethostname()}-{os.getpid()}"
    with clients.services() as services:
        persisted = services.persister(consumer=consumer).drain(max_batches=PERSIST_MAX_BATCHES)
    if persisted:
        log.info("persisted %s signatures", persisted)


@bp.timer_trigger(schedule="30 * * * * *", arg_name="timer", run_on_startup=False)
def send_mail(timer: func.TimerRequest) -> None:
    """Every minute: the mail job (thresholds reached, responses and closes to the signers who
    opted in), in batches, retrying failed sends. Overlapping runs are safe (row locks)."""
    with clients.services() as services:
        run = services.mail_job().run_once()
    if run.sent or run.retrying or run.failed:
        log.info("mail job: %s", run._asdict())
