"""The Google Wallet client a running Loyalpass uses, with the project-wide limiter:
in Redis when ``LOYALPASS_REDIS_URL`` is set, in the database otherwise, so that every
worker process of the deployment shares one budget of requests a second."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from app.config import Config
from app.delivery.google.limiter import DatabaseSlotReserver
from app.google_wallet.account import GoogleAccount
from app.integrations.google import GoogleWalletClient
from app.integrations.ratelimit import Limiter, RedisLimiter, SlotLimiter

LIMIT_NAME = "google-wallet"


def make_limiter(config: Config, engine: Engine) -> Limiter:
    """``LOYALPASS_GOOGLE_REQUESTS_PER_SECOND`` for every worker together."""
    rate = config.google_requests_per_second
    if config.redis_url:
        return RedisLimiter(config.redis_url, f"loyalpass:{LIMIT_NAME}", rate)
    return SlotLimiter(DatabaseSlotReserver(engine, LIMIT_NAME), rate)


def make_google_client(config: Config, account: GoogleAccount,
                       engine: Engine) -> GoogleWalletClient:
    return GoogleWalletClient(account.service_account, limiter=make_limiter(config, engine),
                              api_url=config.google_api_url, ca_file=config.google_ca_file)
