"""Which wallet a browser's device has, told from its User-Agent on the server, so the
card's page offers the right button without JavaScript.

iPhones and iPods (and iPads that still say so) have Apple Wallet; Android phones have
Google Wallet; anything else is taken for a computer, which gets a QR code to open the
page on a phone. An iPad that presents itself as a Mac is a computer here: it still gets
both wallets' links under the code.
"""

from __future__ import annotations

from enum import StrEnum


class Platform(StrEnum):
    IOS = "ios"
    ANDROID = "android"
    DESKTOP = "desktop"


def platform_of(user_agent: str) -> Platform:
    if any(device in user_agent for device in ("iPhone", "iPod", "iPad")):
        return Platform.IOS
    if "Android" in user_agent:
        return Platform.ANDROID
    return Platform.DESKTOP
