"""``<svc>-worker``: run the worker (the default), or operate its queues and outbox.

    catalog-worker                 # = catalog-worker run
    catalog-worker dlq list        # parked messages with their last error
    catalog-worker dlq replay [--id MESSAGE_ID ...]
    catalog-worker dlq purge --yes
    catalog-worker outbox          # unsent rows and the age of the oldest
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import click

from flotilla.events import ops
from flotilla.events.outbox import backlog
from flotilla.events.worker import Worker, WorkerSpec

SpecFactory = Callable[[], WorkerSpec]


def worker_cli(build: SpecFactory) -> click.Group:
    @click.group(invoke_without_command=True)
    @click.pass_context
    def cli(ctx: click.Context) -> None:
        """The event worker (consumer + outbox relay) and its operations commands."""
        if ctx.invoked_subcommand is None:
            ctx.invoke(run)

    @cli.command()
    def run() -> None:
        """Consume events and relay the outbox until SIGTERM."""
        sys.exit(Worker(build()).run())

    @cli.group()
    def dlq() -> None:
        """The parking queue (<service>.dlq)."""

    @dlq.command("list")
    @click.option("--limit", default=100, show_default=True)
    def list_command(limit: int) -> None:
        """Show parked messages (they stay parked)."""
        spec = build()
        parked = ops.list_parked(spec.settings.amqp_url, spec.service, limit)
        for p in parked:
            click.echo(f"{p.message_id}\t{p.event_type}\tattempts={p.attempts}\t{p.parked_at}\t{p.last_error}")
        click.echo(f"{len(parked)} parked message(s) in {spec.service}.dlq")

    @dlq.command()
    @click.option("--id", "ids", multiple=True, help="Replay only these message ids (default: all).")
    def replay(ids: tuple[str, ...]) -> None:
        """Send parked messages back to the service's queue, attempts reset."""
        spec = build()
        count = ops.replay_parked(spec.settings.amqp_url, spec.service, set(ids) if ids else None)
        click.echo(f"replayed {count} message(s) from {spec.service}.dlq")

    @dlq.command()
    @click.option("--yes", is_flag=True, help="Confirm: the messages are dropped for good.")
    def purge(yes: bool) -> None:
        """Drop every parked message."""
        if not yes:
            raise click.UsageError("purge drops messages for good: add --yes")
        spec = build()
        click.echo(f"purged {ops.purge_parked(spec.settings.amqp_url, spec.service)} message(s)")

    @cli.command()
    def outbox() -> None:
        """Show the outbox backlog."""
        spec = build()
        if spec.outbox is None:
            raise click.UsageError(f"{spec.service} has no outbox")
        b = backlog(spec.db, spec.outbox)
        click.echo(f"{spec.service} outbox: {b.unsent} unsent, oldest {b.oldest_age_s:.1f}s old")

    return cli
