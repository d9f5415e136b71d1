"""Every model, imported in one place so that the metadata knows all tables."""

from app.cards.models import Card, Customer
from app.devices.models import Device, DeviceLog, Registration
from app.merchants.models import ApiKey, Location, Merchant, Program, Staff

__all__ = [
    "ApiKey", "Card", "Customer", "Device", "DeviceLog", "Location", "Merchant", "Program",
    "Registration", "Staff",
]
