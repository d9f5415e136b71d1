"""Every model, imported in one place so that the metadata knows all tables."""

from app.analytics.models import CardSegment, SegmentRefresh, WalletEvent
from app.automations.models import AutomationRule, AutomationSend, AutomationSettings
from app.cards.models import AuditEvent, Card, CardRecoveryLink, Customer, SigningKey
from app.delivery.models import WorkerProcess
from app.devices.models import Device, DeviceLog, Registration, SignedPass
from app.google_wallet.models import (
    GoogleClass,
    GoogleEvent,
    GoogleMessage,
    GoogleObject,
)
from app.ledger.models import (
    Alert,
    AuditRecord,
    FraudCursor,
    IdempotencyRecord,
    LedgerEntry,
    Purchase,
    Refund,
)
from app.merchants.models import ApiKey, Location, Merchant, Program, Staff
from app.offers.models import CardOffer, Offer
from app.outbox.models import Mail, OutboxMessage
from app.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookSubscription

__all__ = [
    "Alert", "ApiKey", "AuditEvent", "AuditRecord", "AutomationRule", "AutomationSend",
    "AutomationSettings", "Card", "CardOffer", "CardRecoveryLink", "CardSegment",
    "Customer", "Device", "DeviceLog", "FraudCursor", "GoogleClass", "GoogleEvent",
    "GoogleMessage", "GoogleObject", "IdempotencyRecord", "LedgerEntry", "Location", "Mail",
    "Merchant", "Offer", "OutboxMessage", "Program", "Purchase", "Refund",
    "Registration", "SegmentRefresh", "SignedPass", "SigningKey", "Staff", "WalletEvent",
    "WebhookDelivery", "WebhookEndpoint", "WebhookSubscription", "WorkerProcess",
]
