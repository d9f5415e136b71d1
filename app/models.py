"""Every model, imported in one place so that the metadata knows all tables."""

from app.analytics.models import WalletEvent
from app.cards.models import AuditEvent, Card, CardRecoveryLink, Customer
from app.devices.models import Device, DeviceLog, Registration
from app.google_wallet.models import (
    GoogleClass,
    GoogleEvent,
    GoogleMessage,
    GoogleObject,
    RateWindow,
)
from app.ledger.models import (
    Alert,
    AuditRecord,
    IdempotencyRecord,
    LedgerEntry,
    Purchase,
    Refund,
)
from app.merchants.models import ApiKey, Location, Merchant, Program, Staff
from app.offers.models import CardOffer, Offer
from app.outbox.models import Mail, OutboxMessage

__all__ = [
    "Alert", "ApiKey", "AuditEvent", "AuditRecord", "Card", "CardOffer", "CardRecoveryLink",
    "Customer", "Device", "DeviceLog", "GoogleClass", "GoogleEvent", "GoogleMessage",
    "GoogleObject", "IdempotencyRecord", "LedgerEntry", "Location", "Mail", "Merchant", "Offer",
    "OutboxMessage", "Program", "Purchase",
    "RateWindow", "Refund", "Registration", "Staff",
    "WalletEvent",
]
