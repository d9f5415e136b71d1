"""Start-up: a bad setting or certificate fails at once with one sentence naming the
variable or file; the command line works from an empty folder."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from app import create_app
from app.config import Config, ConfigError
from app.db import make_engine
from app.migrations import upgrade
from app.wallet.identity import write_development_chain
from passes.apple import make_development_chain
from tests.wallet_helpers import pass_json


def _config(tmp_path: Path, certs_dir: Path, **changes: object) -> Config:
    config = Config(database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}",
                    base_url="https://cards.example.test", secret_key="s" * 32,
                    certs_dir=certs_dir, instance_dir=tmp_path / "instance",
                    worker="external")
    return config.with_changes(**changes)


def _copy_certs(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


@pytest.mark.parametrize("missing", ["pass.pem", "pass.key", "wwdr.pem"])
def test_a_missing_certificate_file_fails_at_start_naming_it(
    tmp_path: Path, certs_dir: Path, missing: str
) -> None:
    certs = _copy_certs(certs_dir, tmp_path / "certs")
    (certs / missing).unlink()
    with pytest.raises(ConfigError, match=re.escape(str(certs / missing))):
        create_app(_config(tmp_path, certs))


def test_a_key_of_another_certificate_fails_naming_pass_key(
    tmp_path: Path, certs_dir: Path
) -> None:
    certs = _copy_certs(certs_dir, tmp_path / "certs")
    (certs / "pass.key").write_bytes(make_development_chain().private_key_pem)  # stays 0600
    with pytest.raises(ConfigError, match=r"pass\.key.*(does not|not match|another)"):
        create_app(_config(tmp_path, certs))


def test_a_wwdr_that_did_not_issue_the_certificate_fails_naming_wwdr(
    tmp_path: Path, certs_dir: Path
) -> None:
    certs = _copy_certs(certs_dir, tmp_path / "certs")
    (certs / "wwdr.pem").write_bytes(make_development_chain().wwdr_pem)
    with pytest.raises(ConfigError, match=r"wwdr\.pem"):
        create_app(_config(tmp_path, certs))


def test_an_encrypted_key_loads_with_its_password_and_fails_clearly_without(
    tmp_path: Path,
) -> None:
    certs = tmp_path / "certs"
    write_development_chain(certs, password=b"correct horse")
    app = create_app(_config(tmp_path, certs, pass_key_password="correct horse"))
    assert app.extensions["loyalpass"].wallet.pass_type_identifier.startswith("pass.")
    for password in (None, "wrong"):
        with pytest.raises(ConfigError, match=r"pass\.key"):
            create_app(_config(tmp_path, certs, pass_key_password=password))


def test_production_without_a_secret_key_fails_naming_the_variable(tmp_path: Path) -> None:
    environ = {"LOYALPASS_DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3",
               "LOYALPASS_INSTANCE_DIR": str(tmp_path)}
    with pytest.raises(ConfigError, match="LOYALPASS_SECRET_KEY"):
        Config.from_env(environ)


@pytest.mark.parametrize(("variable", "value"), [
    ("LOYALPASS_DATABASE_URL", "mysql://root@localhost/x"),
    ("LOYALPASS_BASE_URL", "cards.example.com"),
    ("LOYALPASS_WORKER", "sometimes"),
    ("LOYALPASS_APNS_CA_FILE", "/nonexistent/ca.pem"),
    ("LOYALPASS_ENV", "staging"),
    ("LOYALPASS_LIMIT_JOIN_PER_ADDRESS", "lots"),
    ("LOYALPASS_LIMIT_AUTH_FAILURES", "20 a minute"),
    ("LOYALPASS_TRUSTED_PROXIES", "many"),
])
def test_an_unusable_setting_fails_naming_its_variable(
    tmp_path: Path, variable: str, value: str
) -> None:
    environ = {"LOYALPASS_SECRET_KEY": "s" * 32, "LOYALPASS_INSTANCE_DIR": str(tmp_path),
               variable: value}
    with pytest.raises(ConfigError, match=variable):
        Config.from_env(environ)


def test_an_unreachable_database_fails_at_start(tmp_path: Path, certs_dir: Path) -> None:
    config = _config(tmp_path, certs_dir,
                     database_url="postgresql+psycopg://nobody@127.0.0.1:1/none")
    with pytest.raises(ConfigError, match="LOYALPASS_DATABASE_URL"):
        create_app(config)


def test_development_generates_and_keeps_one_secret_key(tmp_path: Path) -> None:
    environ = {"LOYALPASS_INSTANCE_DIR": str(tmp_path)}
    first = Config.from_env(environ)
    second = Config.from_env(environ)
    assert first.development and len(first.secret_key) >= 32
    assert first.secret_key == second.secret_key


def _clean_env(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOYALPASS_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _loyalpass(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_merchant_create_prints_the_merchant_id_and_the_owners_key(tmp_path: Path) -> None:
    env = _clean_env(tmp_path)
    assert _loyalpass("db", "upgrade", cwd=tmp_path, env=env).returncode == 0
    result = _loyalpass("merchant", "create", "--name", "Salon Lux", "--email",
                        "owner@salon.example", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert isinstance(printed["merchant_id"], int)
    assert printed["api_key"].startswith("lp_")
    again = _loyalpass("merchant", "create", "--name", "Salon Lux", "--email",
                       "owner@salon.example", cwd=tmp_path, env=env)
    assert again.returncode == 1 and "already" in again.stderr


def test_a_bad_setting_on_the_command_line_is_one_sentence_not_a_traceback(
    tmp_path: Path,
) -> None:
    env = {**_clean_env(tmp_path), "LOYALPASS_DATABASE_URL": "oracle://x"}
    result = _loyalpass("db", "upgrade", cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert "LOYALPASS_DATABASE_URL" in result.stderr and "Traceback" not in result.stderr


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.mark.parametrize("base_url_set", [True, False], ids=["base-url-set", "base-url-unset"])
def test_serve_starts_from_an_empty_folder_and_hands_out_a_demo_pass(
    tmp_path: Path, base_url_set: bool
) -> None:
    port = _free_port()  # not 5000: without LOYALPASS_BASE_URL the links name this port
    env = _clean_env(tmp_path)
    if base_url_set:
        env["LOYALPASS_BASE_URL"] = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port)], cwd=tmp_path, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines: list[str] = []
        assert process.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any("Card page" in line for line in lines):
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
        output = "".join(lines)
        pass_url = re.search(r"A demo pass:\s+(\S+)", output)
        api_key = re.search(r"Owner API key:\s+(\S+)", output)
        assert pass_url and api_key, output
        links = re.findall(r"https?://\S+", output)
        assert links and all(link.startswith(f"http://127.0.0.1:{port}/") for link in links)
        for _ in range(100):
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        package = requests.get(pass_url.group(1), timeout=10)
        assert package.status_code == 200
        assert package.headers["Content-Type"] == "application/vnd.apple.pkpass"
        assert pass_json(package.content)["webServiceURL"] == f"http://127.0.0.1:{port}/passkit"
        programs = requests.get(f"http://127.0.0.1:{port}/api/v1/programs", timeout=10,
                                headers={"Authorization": f"Bearer {api_key.group(1)}"})
        assert [p["slug"] for p in programs.json()["programs"]] == ["demo"]
        assert (tmp_path / "certs" / "pass.pem").is_file()
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(("name", "mode"), [("pass.key", 0o644), ("pass.key", 0o640),
                                            ("google.json", 0o604)])
def test_a_key_others_may_read_stops_a_production_start_naming_the_file_and_the_fix(
    tmp_path: Path, certs_dir: Path, name: str, mode: int
) -> None:
    certs = _copy_certs(certs_dir, tmp_path / "certs")
    key = certs / name
    if not key.exists():
        key.write_text("{}")  # checked whether or not Google Wallet is on
    key.chmod(mode)
    with pytest.raises(ConfigError, match=rf"{re.escape(str(key))} .*chmod 600"):
        create_app(_config(tmp_path, certs))
    assert not (tmp_path / "db.sqlite3").exists()  # refused before anything was touched


def test_in_development_a_key_others_may_read_is_one_warning_naming_it(
    tmp_path: Path, certs_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    certs = _copy_certs(certs_dir, tmp_path / "certs")
    (certs / "pass.key").chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="loyalpass.certs"):
        app = create_app(_config(tmp_path, certs, development=True))
    app.extensions["loyalpass"].engine.dispose()
    warnings = [r.getMessage() for r in caplog.records if r.name == "loyalpass.certs"]
    assert len(warnings) == 1 and str(certs / "pass.key") in warnings[0]
    assert "chmod 600" in warnings[0]


def test_the_suites_certificates_start_a_production_service_without_complaint(
    tmp_path: Path, certs_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="loyalpass.certs"):
        app = create_app(_config(tmp_path, certs_dir))
    app.extensions["loyalpass"].engine.dispose()
    assert _mode(certs_dir / "pass.key") == 0o600
    assert not [r for r in caplog.records if r.name == "loyalpass.certs"]


def test_certs_dev_writes_the_private_key_for_its_owner_alone_even_under_a_loose_umask(
    tmp_path: Path,
) -> None:
    result = subprocess.run([sys.executable, "-m", "app.cli", "certs", "dev"], cwd=tmp_path,
                            env=_clean_env(tmp_path), capture_output=True, text=True,
                            timeout=120, check=False, umask=0o002)
    assert result.returncode == 0, result.stderr
    certs = tmp_path / "certs"
    assert _mode(certs / "pass.key") == 0o600
    assert _mode(certs / "pass.pem") == 0o664  # certificates are public
    app = create_app(_config(tmp_path, certs))  # production, no complaint
    app.extensions["loyalpass"].engine.dispose()


def test_the_instance_folder_database_and_generated_secret_are_the_owners_alone(
    tmp_path: Path,
) -> None:
    previous = os.umask(0o022)
    try:
        config = Config.from_env({"LOYALPASS_INSTANCE_DIR": str(tmp_path / "instance")})
        engine = make_engine(config.database_url)
        upgrade(engine)
        engine.dispose()
    finally:
        os.umask(previous)
    instance = tmp_path / "instance"
    assert config.development and _mode(instance) == 0o700
    assert _mode(instance / "secret_key") == 0o600
    database = instance / "loyalpass.sqlite3"
    assert config.database_url.endswith(str(database)) and _mode(database) == 0o600
    for companion in instance.glob("loyalpass.sqlite3-*"):  # -wal, -shm while open
        assert _mode(companion) == 0o600, companion
