"""`flask` commands: persister, Redis rebuild, petition closing, moderators and demo data."""
import threading

import click
from flask import current_app
from flask.cli import AppGroup

from app.web import wiring
from app.domain.petitions import utcnow
from app.web.extensions import db
from app.repositories.outbox import Outbox
from app.repositories.petitions_sql import PetitionRepository, SignatureRepository
from app.services.rebuild import rebuild_open_index


EMBEDDED_NOTE = (
    "This site runs on the embedded in-process Redis, which belongs to the running `make run` "
    "process; a separate command cannot reach it. The running site {does} itself. Set REDIS_URL "
    "to run this command against a shared Redis."
)


def _refuse_when_embedded(does):
    if not current_app.config["REDIS_URL"]:
        raise click.ClickException(EMBEDDED_NOTE.format(does=does))


def register_commands(app):
    app.cli.add_command(signatures_cli)
    app.cli.add_command(redis_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(petitions_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(mail_cli)
    app.cli.add_command(counts_cli)


@click.group("signatures", help="The signature outbox.")
def signatures_cli():
    pass


@signatures_cli.command("persist")
@click.option("--once", is_flag=True, help="Drain what is waiting now, then exit.")
def persist(once):
    """Copy signatures from the Redis outbox into SQL (runs until stopped)."""
    _refuse_when_embedded("persists signatures in the background")
    persister = wiring.persister()
    if once:
        click.echo(f"persisted {persister.drain()} outbox entries")
        return
    _until_interrupted(persister.run_forever, "persisting signatures")


@signatures_cli.command("lag")
def lag():
    """How far SQL trails Redis: outbox entries not yet persisted, and the oldest one's age."""
    _refuse_when_embedded("persists signatures in the background")
    outbox = Outbox(wiring.redis_client())
    click.echo(f"{outbox.lag()} outbox entries not yet in SQL; the oldest waited {outbox.lag_seconds():.1f} s")


@click.group("redis", help="The Redis hot store.")
def redis_cli():
    pass


@redis_cli.command("rebuild")
def rebuild():
    """Load open petitions and signers from SQL into Redis (adds, never removes signers)."""
    _refuse_when_embedded("rebuilds its Redis from SQL when it starts")
    count = rebuild_open_index(
        wiring.open_store(), PetitionRepository(db.session), SignatureRepository(db.session), utcnow
    )
    click.echo(f"rebuilt {count} open petitions")


petitions_cli = AppGroup("petitions", help="Petition lifecycle.")


@petitions_cli.command("close-due")
def close_due():
    """Close every open petition past its deadline (report and owner notification included)."""
    _refuse_when_embedded("closes due petitions every CLOSE_SWEEP_SECONDS")
    results, failed = wiring.services().sweep(utcnow())
    for result in results:
        click.echo(f"closed petition {result.petition_id} with {result.signature_count} signatures")
    click.echo(f"{len(results)} closed, {len(failed)} failed")
    if failed:
        raise SystemExit(1)


@petitions_cli.command("close")
@click.argument("petition_id", type=int)
def close_now(petition_id):
    """Close one open petition now, before its deadline. In functions mode this raises the
    close_now event on its orchestration, which then runs the close."""
    from app.domain.errors import DomainError

    try:
        client = wiring.functions_client()
        if client is not None:
            client.close_now(petition_id)
            click.echo(f"asked the Functions app to close petition {petition_id} now")
            return
        if not current_app.config["REDIS_URL"]:
            wiring.close_coordinator().closing.request_close(petition_id)
            seconds = current_app.config["CLOSE_SWEEP_SECONDS"]
            click.echo(f"close of petition {petition_id} requested; the running site closes it within {seconds} s")
            return
        result = wiring.close_coordinator().finish(petition_id)
    except DomainError as error:
        raise click.ClickException(error.message) from None
    if result.taken_down:
        raise click.ClickException(f"petition {petition_id} is taken down: restore it in /moderation first")
    verb = "was already closed" if result.already_closed else "closed"
    click.echo(f"petition {petition_id} {verb} with {result.signature_count} signatures")


@click.group("users", help="Accounts and roles.")
def users_cli():
    pass


def _set_moderator(email, grant):
    from app.domain.errors import DomainError

    try:
        user = wiring.moderation().set_moderator(email, grant)
    except DomainError as error:
        raise click.ClickException(error.message) from None
    current_app.extensions["user_cache"].forget(user.id)  # the next request reads the new role
    return user


@users_cli.command("grant-moderator")
@click.argument("email")
def grant_moderator(email):
    """Let the account with EMAIL use /moderation (logged in the audit log)."""
    user = _set_moderator(email, True)
    click.echo(f"{user.email} is now a moderator")


@users_cli.command("revoke-moderator")
@click.argument("email")
def revoke_moderator(email):
    """Take /moderation away from the account with EMAIL (logged in the audit log)."""
    user = _set_moderator(email, False)
    click.echo(f"{user.email} is no longer a moderator")


@click.group("demo", help="Demo data for local runs.")
def demo_cli():
    pass


@demo_cli.command("load")
def load_demo():
    """Create demo users and petitions (skipped if they already exist)."""
    from app.web.demo import load_demo_data

    created = load_demo_data(current_app)
    click.echo("demo data loaded" if created else "demo data already present")


@click.group("mail", help="Petition emails: thresholds, responses, closes.")
def mail_cli():
    pass


@mail_cli.command("send")
def mail_send():
    """Run the mail job once: record thresholds reached, queue the recipients, send what is due
    (cron or a systemd timer every minute, unless RUN_BACKGROUND_MAILER runs it in-process)."""
    run = wiring.mail_job().run_once()
    click.echo(f"{run.campaigns} new campaigns, {run.queued} queued, {run.sent} sent, "
               f"{run.retrying} to retry, {run.failed} given up, {run.skipped} skipped")


@click.group("counts", help="Pushed counts (Server-Sent Events through nginx).")
def counts_cli():
    pass


@counts_cli.command("publish")
def counts_publish():
    """Publish each signed petition's count once a second to nginx (COUNT_PUBLISH_URL), which
    pushes it to the pages watching; runs until stopped. Run one per machine: a Redis lease
    lets only one publish at a time."""
    _refuse_when_embedded("has no nginx to publish to")
    publisher = wiring.services().count_publisher()
    if publisher is None:
        raise click.ClickException("COUNT_PUBLISH_URL is not set: there is nowhere to publish.")
    _until_interrupted(publisher.run_forever, "publishing counts")


def _until_interrupted(run_forever, doing):
    """Runs a loop that takes a stop event until Ctrl+C."""
    stop = threading.Event()
    click.echo(f"{doing}; Ctrl+C to stop")
    try:
        run_forever(stop)
    except KeyboardInterrupt:
        stop.set()
