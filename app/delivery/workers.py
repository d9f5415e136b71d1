"""The worker loops of one process, one or more per channel: pushes (fan-out and APNs,
``app.delivery.pushes``), Google Wallet (``app.delivery.google``), mail
(``app.delivery.mail``) and webhooks (``app.delivery.webhooks``), the periodic jobs
(``app.delivery.housekeeping``), the automatic offers (``app.delivery.automations``) and the
re-signing of passes after a key rotation (``app.delivery.rotation``), beside the process's
presence (``app.delivery.presence``: the heartbeat its channels' leases name, so that another
worker takes them over soon after this one dies). A new channel is a module of its own with
its loop, added here, taking the presence.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.analytics.budget import over_budget
from app.config import Config
from app.delivery.automations import Automations
from app.delivery.google.client import make_google_client
from app.delivery.google.sync import GoogleSync, GoogleWorker
from app.delivery.housekeeping import Housekeeping
from app.delivery.loop import Loop
from app.delivery.mail import MailSync, MailWorker, make_mail_sender
from app.delivery.presence import Presence
from app.delivery.pushes import Worker
from app.delivery.rotation import KeyRotation
from app.delivery.senders import make_sender
from app.delivery.webhook_client import PinnedSender, WebhookSender
from app.delivery.webhooks import WebhookSync, WebhookWorker
from app.integrations.apns import PushSender
from app.integrations.google import GoogleWallet
from app.integrations.mail import MailSender
from app.outbox.wakeups import Wakeups
from app.wallet.service import Wallet

# Google requests in flight at once from one worker, and rows it leases a round, on
# PostgreSQL (SQLite's one writer: one at a time): enough that the limiter, not a
# request's round trip and bookkeeping, sets the pace.
GOOGLE_SENDERS = 4
GOOGLE_BATCH = 40


class Host(Protocol):
    """What the loops need of the running app (``app.runtime.Runtime``, which sits above
    the web layer and so is named here by its shape)."""

    @property
    def config(self) -> Config: ...
    @property
    def engine(self) -> Engine: ...
    @property
    def sessions(self) -> sessionmaker[Session]: ...
    @property
    def wallet(self) -> Wallet: ...
    @property
    def workers(self) -> list[Loop]: ...
    @property
    def wakeups(self) -> Wakeups: ...


def make_workers(runtime: Host, *, push_sender: PushSender | None = None,
                 google_client: GoogleWallet | None = None,
                 mail_sender: MailSender | None = None,
                 webhook_sender: WebhookSender | None = None, loops: int = 1,
                 name: str = "worker") -> list[Loop]:
    """The worker loops of one process: ``loops`` push loops, one mail loop, one webhook
    loop and, when
    Google Wallet is on, one Google loop woken after each fan-out, all woken by the
    commits of ``runtime.sessions``; and the housekeeping loop, which runs by the clock.
    They are added to ``runtime.workers``, with the automatic offers' loop (by the clock
    too), the key rotation's (by its pace) and the process's ``Presence`` (first: it beats
    for them all)."""

    config, google = runtime.config, runtime.wallet.google
    postgres = runtime.engine.dialect.name == "postgresql"
    presence = Presence(runtime.sessions, name=name)
    sender = push_sender or make_sender(
        config, development_chain=runtime.wallet.is_development_chain)
    created: list[Loop] = [MailWorker(
        MailSync(sessions=runtime.sessions, sender=mail_sender or make_mail_sender(config),
                 wallet=runtime.wallet, sender_address=config.sender_address,
                 presence=presence),
        poll_interval=config.worker_poll_interval, name=f"{name}-mail"),
        WebhookWorker(WebhookSync(
            sessions=runtime.sessions, sender=webhook_sender or PinnedSender(
                allow_private=config.webhooks_allow_private), presence=presence),
            poll_interval=config.worker_poll_interval, name=f"{name}-webhooks")]
    google_loop = None
    if google is not None:
        client = google_client or make_google_client(config, google, runtime.engine)
        google_loop = GoogleWorker(GoogleSync(sessions=runtime.sessions, client=client,
                                              account=google, wallet=runtime.wallet,
                                              presence=presence,
                                              batch=GOOGLE_BATCH if postgres else 20,
                                              senders=GOOGLE_SENDERS if postgres else 1),
                                   poll_interval=config.worker_poll_interval,
                                   name=f"{name}-google")
        created.append(google_loop)
    for number in range(loops):
        created.append(Worker(
            sessions=runtime.sessions, sender=sender, topic=runtime.wallet.pass_type_identifier,
            name=name if loops == 1 else f"{name}-{number + 1}",
            poll_interval=config.worker_poll_interval,
            lease=timedelta(seconds=config.push_lease_seconds), google=google,
            after_fanout=google_loop.wake if google_loop is not None else None,
            presence=presence, wallet=runtime.wallet))
    for loop in created:
        loop.wakeups = runtime.wakeups
    created.append(Housekeeping(runtime.sessions, name=f"{name}-housekeeping",
                                config=runtime.config))
    created.append(Automations(runtime.sessions, name=f"{name}-automations",
                               over_budget=over_budget))
    created.append(KeyRotation(runtime.sessions, keys=config.secret_keys,
                               per_minute=config.key_rotation_per_minute,
                               name=f"{name}-key-rotation"))
    created.insert(0, presence)
    runtime.workers.extend(created)
    return created
