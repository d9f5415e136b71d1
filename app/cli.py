"""The ``loyalpass`` command line (also ``flask --app wsgi …``)."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

import click
from flask import Flask
from werkzeug.serving import WSGIRequestHandler

from app.config import DEFAULT_PORT, Config, ConfigError
from app.logs import configure_logging


def _fail_clearly(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a configuration error into one sentence and exit status 2, not a traceback."""
    import functools

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ConfigError as error:
            click.echo(f"loyalpass: {error}", err=True)
            sys.exit(2)

    return wrapper


@click.group(help="Loyalpass: loyalty cards in Apple Wallet and Google Wallet.")
def main() -> None:
    pass


@main.command(help="Migrate, ensure development certificates and demo data, and serve.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int)
@_fail_clearly
def serve(host: str, port: int) -> None:
    from app import create_app
    from app.db import make_engine
    from app.migrations import upgrade
    from app.wallet.identity import write_development_chain

    config = Config.from_env(port=port)  # links and passes name the port served on
    if not os.environ.get("LOYALPASS_LOG_FORMAT"):
        config = config.with_changes(log_format="plain")  # a terminal, not a collector
    configure_logging(config.log_format, config.log_level)
    if write_development_chain(config.certs_dir):
        click.echo(f"Wrote a development certificate chain to {config.certs_dir}")
    upgrade(make_engine(config.database_url))
    app = create_app(config)  # logs where Google Wallet stands
    from app.delivery.mail import mail_status

    click.echo(mail_status(config))
    if config.development:
        _print_demo(app, config)
    app.run(host=host, port=port, threaded=True, use_reloader=False,
            request_handler=QuietRequestHandler)


class QuietRequestHandler(WSGIRequestHandler):
    """Flask's development server without its own request lines: each request's line is
    the app's (``app.web.request_log``), where werkzeug's would print the path, with its
    serial numbers and card tokens."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


def _print_demo(app: Flask, config: Config) -> None:
    from app.demo import seed_demo
    from app.web.json_shapes import join_url

    runtime = app.extensions["loyalpass"]
    with runtime.sessions() as session:
        demo = seed_demo(session, instance_dir=config.instance_dir)
        wallet = runtime.wallet
        click.echo("")
        click.echo(f"  Demo program:   {demo.program.name}")
        click.echo(f"  Join page:      {join_url(config.base_url, demo.program)}")
        click.echo(f"  Owner API key:  {demo.api_key}")
        click.echo(f"  A demo pass:    {wallet.apple_pass_url(demo.cards[0])}")
        click.echo(f"  Card page:      {wallet.card_url(demo.cards[0])}")
        click.echo(f"  API:            {config.base_url}/api/openapi.json")
        click.echo("")


@click.group("db", help="Database schema.")
def db_group() -> None:
    pass


@db_group.command("upgrade", help="Apply the migrations (Alembic).")
@_fail_clearly
def db_upgrade() -> None:
    from app.db import make_engine
    from app.migrations import head_revision, upgrade

    config = Config.from_env(require_secret=False)
    # Straight to PostgreSQL when a pooler stands in front: a migration holds its locks
    # and builds indexes CONCURRENTLY across transactions.
    upgrade(make_engine(config.session_database_url,
                        prepared_statements=config.prepared_statements))
    click.echo(f"Database at migration {head_revision()}.")


@click.group("certs", help="Pass certificates.")
def certs_group() -> None:
    pass


@certs_group.command("dev", help="Write a self-signed development chain to LOYALPASS_CERTS_DIR.")
@_fail_clearly
def certs_dev() -> None:
    from app.wallet.identity import write_development_chain

    config = Config.from_env(development=True, require_secret=False)
    password = config.pass_key_password.encode() if config.pass_key_password else None
    if write_development_chain(config.certs_dir, password=password):
        click.echo(f"Wrote pass.pem, pass.key, wwdr.pem and root.pem to {config.certs_dir}")
    else:
        click.echo(f"{config.certs_dir} already holds certificates; nothing written.")


@click.group("merchant", help="Merchants.")
def merchant_group() -> None:
    pass


@merchant_group.command("create", help="Create a merchant and its owner; prints JSON.")
@click.option("--name", required=True)
@click.option("--email", required=True)
@click.option("--password", default=None)
@_fail_clearly
def merchant_create(name: str, email: str, password: str | None) -> None:
    from app.db import make_engine, make_session_factory
    from app.errors import Problem
    from app.merchants.service import create_merchant

    config = Config.from_env(require_secret=False)
    sessions = make_session_factory(make_engine(
        config.database_url, prepared_statements=config.prepared_statements))
    with sessions() as session:
        try:
            created = create_merchant(session, name=name, email=email, password=password)
        except Problem as problem:
            click.echo(f"loyalpass: {problem.detail}", err=True)
            sys.exit(1)
        click.echo(json.dumps({"merchant_id": created.merchant.id, "api_key": created.api_key}))


@main.command(help="Run the push, Google and mail worker until stopped "
                   "(SIGTERM finishes the batch).")
@click.option("--concurrency", default=1, show_default=True, type=click.IntRange(1, 32),
              help="worker loops in this process")
@click.option("--metrics-port", type=click.IntRange(1, 65535), default=None,
              help="serve this worker's Prometheus metrics on this port "
                   "(LOYALPASS_WORKER_METRICS_PORT; default: off)")
@click.option("--metrics-host", default=None,
              help="the address --metrics-port listens on (LOYALPASS_WORKER_METRICS_HOST; "
                   "default 127.0.0.1)")
@_fail_clearly
def worker(concurrency: int, metrics_port: int | None, metrics_host: str | None) -> None:
    import signal
    import threading

    from app import create_app
    from app.delivery.loop import PostgresListener
    from app.delivery.mail import mail_status
    from app.delivery.workers import make_workers
    from app.metrics import forget_process

    # Everything a worker says is a log line, JSON in production, like the web's.
    log = logging.getLogger("loyalpass.worker")
    config = Config.from_env().with_changes(worker="external")
    configure_logging(config.log_format, config.log_level)
    metrics_server = _serve_metrics(metrics_host or config.worker_metrics_host,
                                    metrics_port or config.worker_metrics_port)
    runtime = create_app(config).extensions["loyalpass"]  # logs where Google stands
    log.info(mail_status(config))
    workers = make_workers(runtime, loops=concurrency)

    def wake_all() -> None:
        for one in workers:
            one.wake()

    listener = None
    if not config.is_sqlite:
        # LISTEN needs a server session of its own: through a pooler in transaction mode
        # it hears nothing, and the loops fall back on their poll (see the README).
        listener = PostgresListener(config.session_database_url, wake_all)
        listener.start()

    received: list[str] = []

    def _stop(signum: int, _frame: object) -> None:
        # No logging here: the handler runs between two bytecodes of the main thread, which
        # may be inside a write to the same stream (a reentrant write raises, and the
        # worker never stopped). The main thread logs it below.
        received.append(signal.Signals(signum).name)
        for one in workers:
            one.stop()
        if listener is not None:
            listener.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    threads = [threading.Thread(target=one.run, name=one.name) for one in workers]
    for thread in threads:
        thread.start()
    log.info("loyalpass worker: %d loop(s) on %s", concurrency, make_url_safe(config))
    told = 0
    for thread in threads:
        while thread.is_alive():
            thread.join(0.5)
            told = _tell_signals(log, received, told)
    _tell_signals(log, received, told)
    close_workers(workers)
    runtime.engine.dispose()  # its database connections end cleanly, the held ones too
    if metrics_server is not None:
        metrics_server.shutdown()
    forget_process(os.getpid())


def _tell_signals(log: logging.Logger, received: list[str], told: int) -> int:
    """Log the signals received since the ``told`` first; how many are told now."""
    for name in received[told:]:
        log.info("loyalpass worker: %s, finishing the batch", name)
    return len(received)


def _serve_metrics(host: str, port: int | None) -> Any:
    """This worker's ``/metrics`` on ``host:port`` (None: not served)."""
    from app.metrics import serve

    if port is None:
        return None
    try:
        server, _thread = serve(port, host)
    except OSError as error:
        raise ConfigError(f"--metrics-port/LOYALPASS_WORKER_METRICS_PORT: cannot listen on "
                          f"{host}:{port} ({error.strerror or error}).") from None
    click.echo(f"loyalpass worker: metrics on http://{host}:{port}/metrics")
    return server


def close_workers(workers: list[Any]) -> None:
    """Close each client the loops hold (push loops share one sender) once; the
    housekeeping loop holds none."""
    clients = [client for client in (getattr(one, "client", None) for one in workers)
               if client is not None]
    for client in {id(client): client for client in clients}.values():
        client.close()


def make_url_safe(config: Config) -> str:
    from sqlalchemy.engine import make_url

    return make_url(config.database_url).render_as_string(hide_password=True)


@click.group("ledger", help="The ledger's daily jobs (run them from cron; safe to repeat).")
def ledger_group() -> None:
    pass


def _sessions() -> Any:
    from app.db import make_engine, make_session_factory

    config = Config.from_env(require_secret=False)
    return make_session_factory(make_engine(config.database_url,
                                            prepared_statements=config.prepared_statements))


@ledger_group.command("expire", help="Expire points older than each program's expiry.")
@_fail_clearly
def ledger_expire() -> None:
    from app.ledger.maintenance import expire_points

    with _sessions()() as session:
        report = expire_points(session)
    click.echo(f"Expired {report.points} points on {report.cards} cards.")


@ledger_group.command("refresh-tiers", help="Move cards to the tier 12 months of spend earn.")
@_fail_clearly
def ledger_refresh_tiers() -> None:
    from app.ledger.maintenance import refresh_tiers

    with _sessions()() as session:
        report = refresh_tiers(session)
    click.echo(f"Moved {report.cards} cards to another tier.")


@ledger_group.command("purge-keys", help="Forget idempotency keys older than --days.")
@click.option("--days", default=30, show_default=True, type=click.IntRange(min=7))
@_fail_clearly
def ledger_purge_keys(days: int) -> None:
    from app.ledger.idempotency import purge_old_keys

    with _sessions()() as session:
        removed = purge_old_keys(session, days=days)
    click.echo(f"Forgot {removed} idempotency keys older than {days} days.")


@click.group("cards", help="Customers' cards: housekeeping (the worker runs it too; "
                           "safe to repeat).")
def cards_group() -> None:
    pass


@cards_group.command("purge-links", help="Erase what expired recovery links proposed "
                                         "(contact details) and the address they came from.")
@_fail_clearly
def cards_purge_links() -> None:
    from app.cards.recovery import purge_expired_links

    with _sessions()() as session:
        erased = purge_expired_links(session)
    click.echo(f"Erased the proposed details of {erased} expired recovery links.")


@click.group("stats", help="The stats' summaries (the worker keeps them; safe to repeat).")
def stats_group() -> None:
    pass


@stats_group.command("roll-up", help="Roll every program's days that are over up into the "
                                     "summaries, and count its cards, now.")
@_fail_clearly
def stats_roll_up() -> None:
    from app.analytics.rollup import roll_up_due

    with _sessions()() as session:
        rolled = roll_up_due(session)
    click.echo(f"Rolled {sum(done.days for done in rolled)} days of {len(rolled)} programs up.")


@stats_group.command("rebuild", help="Forget a program's summaries; the next roll-up (the "
                                     "worker's, or `stats roll-up`) rebuilds them.")
@click.option("--program", "program_id", type=int, required=True)
@_fail_clearly
def stats_rebuild(program_id: int) -> None:
    from app.analytics.rollup import rebuild

    with _sessions()() as session:
        rebuild(session, program_id=program_id)
    click.echo(f"The summaries of program {program_id} will be rolled up again.")


@click.group("keys", help="The secret keys: re-signing passes after a rotation "
                          "(LOYALPASS_SECRET_KEY_PREVIOUS).")
def keys_group() -> None:
    pass


def _keyed_sessions() -> tuple[Config, Any]:
    from app.db import make_engine, make_session_factory

    config = Config.from_env()
    return config, make_session_factory(make_engine(config.database_url))


def _progress_json(config: Config, sessions: Any) -> dict[str, Any]:
    from app.cards.rotation import progress
    from app.clock import iso, utcnow

    with sessions() as session:
        state = progress(session, keys=config.secret_keys, now=utcnow())
    return {"key_id": state.key_id, "previous_key_ids": list(state.previous_ids),
            "current_since": iso(state.current_since),
            "resigning_passes_changed_before": iso(state.starts_at),
            "passes_on_previous_keys": state.remaining,
            "finished_at": iso(state.finished_at),
            "per_minute": config.key_rotation_per_minute}


@keys_group.command("status", help="How many passes may still carry a previous key; JSON.")
@_fail_clearly
def keys_status() -> None:
    config, sessions = _keyed_sessions()
    click.echo(json.dumps(_progress_json(config, sessions)))


@keys_group.command("rotate", help="Re-sign and push, at --per-minute, every pass that may "
                                   "carry a previous key, until none does (safe to stop "
                                   "and run again; workers share the pace).")
@click.option("--per-minute", type=click.IntRange(1, 1_000_000), default=None,
              help="passes a minute  [default: LOYALPASS_KEY_ROTATION_PER_MINUTE]")
@_fail_clearly
def keys_rotate(per_minute: int | None) -> None:
    import time
    from datetime import timedelta

    from app.cards.rotation import resign_round
    from app.clock import utcnow

    config, sessions = _keyed_sessions()
    pace = per_minute or config.key_rotation_per_minute or 1
    started = _progress_json(config, sessions)
    click.echo(f"Key {started['key_id']}: re-signing the passes last changed before "
               f"{started['resigning_passes_changed_before']} at {pace} a minute; "
               f"{started['passes_on_previous_keys']} left.")
    resigned, reported = 0, time.monotonic()
    try:
        while True:
            with sessions() as session:
                done = resign_round(session, keys=config.secret_keys, per_minute=pace,
                                    now=utcnow())
            resigned += done.resigned
            if done.finished:
                break
            if time.monotonic() - reported > 30:
                reported = time.monotonic()
                left = _progress_json(config, sessions)["passes_on_previous_keys"]
                click.echo(f"Re-signed {resigned} passes; {left} left.")
            time.sleep(min(60.0, (done.wait or timedelta(0)).total_seconds()))
    except KeyboardInterrupt:
        click.echo(f"Stopped after re-signing {resigned} passes; run it again to go on.")
        sys.exit(130)
    click.echo(f"Re-signed {resigned} passes; no pass carries a previous key any more: "
               "LOYALPASS_SECRET_KEY_PREVIOUS may be emptied once the pushes are out.")


@main.command(help="Seed a demo merchant, program, location and cards.")
@_fail_clearly
def demo() -> None:
    from app import create_app

    config = Config.from_env()
    _print_demo(create_app(config), config)


for group in (db_group, certs_group, merchant_group, ledger_group, cards_group, stats_group,
              keys_group):
    main.add_command(group)


def register_cli(app: Flask) -> None:
    for command in (db_group, certs_group, merchant_group, ledger_group, cards_group,
                    stats_group, keys_group, demo):
        app.cli.add_command(command)

if __name__ == "__main__":
    main()
