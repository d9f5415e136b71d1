"""In production the base URL must be https (Wallet refuses a plain-http web service,
Google's callbacks need https), unless it names this machine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app import create_app
from app.config import Config, ConfigError


def _environ(tmp_path: Path, base_url: str, **more: str) -> dict[str, str]:
    return {"LOYALPASS_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "LOYALPASS_SECRET_KEY": "s" * 32, "LOYALPASS_INSTANCE_DIR": str(tmp_path),
            "LOYALPASS_BASE_URL": base_url, **more}


@pytest.mark.parametrize("base_url", ["http://cards.example.com",
                                      "http://cards.example.com:8080",
                                      "http://10.0.0.5", "http://[2001:db8::1]"])
def test_a_plain_http_base_url_stops_a_production_start_naming_the_variable(
        tmp_path: Path, base_url: str) -> None:
    with pytest.raises(ConfigError) as refused:
        Config.from_env(_environ(tmp_path, base_url))
    message = str(refused.value)
    assert message.startswith(f"LOYALPASS_BASE_URL is '{base_url}': in production it must "
                              "be https")
    assert "Wallet" in message and "LOYALPASS_ENV=development" in message


@pytest.mark.parametrize("base_url", ["http://127.0.0.1:8000", "http://127.0.0.53",
                                      "http://localhost:5000", "http://cards.localhost",
                                      "http://[::1]:8000", "https://cards.example.com"])
def test_https_or_a_loopback_host_starts_in_production(tmp_path: Path, base_url: str) -> None:
    config = Config.from_env(_environ(tmp_path, base_url))
    assert not config.development and config.base_url == base_url


def test_development_may_use_plain_http_anywhere(tmp_path: Path) -> None:
    config = Config.from_env(_environ(tmp_path, "http://192.168.1.20:5000",
                                      LOYALPASS_ENV="development"))
    assert config.development and config.base_url == "http://192.168.1.20:5000"


def test_a_configuration_built_by_hand_is_checked_by_create_app(
        tmp_path: Path, certs_dir: Path) -> None:
    config = Config(database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}",
                    base_url="http://cards.example.com", secret_key="s" * 32,
                    certs_dir=certs_dir, instance_dir=tmp_path / "instance",
                    worker="external")
    with pytest.raises(ConfigError, match="LOYALPASS_BASE_URL"):
        create_app(config)


def test_the_worker_refuses_it_with_one_sentence_and_no_traceback(tmp_path: Path) -> None:
    environ = _environ(tmp_path, "http://cards.example.com", PATH="/usr/bin:/bin",
                       PYTHONPATH=str(Path(__file__).parent.parent))
    done = subprocess.run([sys.executable, "-m", "app.cli", "worker"], env=environ,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.startswith("loyalpass: LOYALPASS_BASE_URL is 'http://cards.example.com'")
    assert "Traceback" not in done.stderr
