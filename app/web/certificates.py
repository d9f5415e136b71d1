"""The certificates' health for the pages that show it (/readyz, the owners' dashboard):
one ``CertificateWatch`` per app, kept in its extensions, so that frequent probes only
stat the files (``app.wallet.expiry``)."""

from __future__ import annotations

from flask import current_app

from app.wallet.expiry import CertificateHealth, CertificateWatch
from app.web.context import runtime

_WATCH = "loyalpass.certificates"


def certificate_health() -> list[CertificateHealth]:
    watch: CertificateWatch | None = current_app.extensions.get(_WATCH)
    if watch is None:
        watch = current_app.extensions[_WATCH] = CertificateWatch(runtime().config)
    return watch.health()
