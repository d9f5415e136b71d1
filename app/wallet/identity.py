"""Loading the pass certificate, key and WWDR intermediate from ``LOYALPASS_CERTS_DIR``,
and checking that the private keys there are the service user's alone."""

from __future__ import annotations

import logging
from pathlib import Path

from app.config import Config, ConfigError
from app.files import readable_by_others, write_private
from passes.apple import (
    CertificateError,
    SigningIdentity,
    load_signing_identity,
    make_development_chain,
)

log = logging.getLogger("loyalpass.certs")

CERTIFICATE_FILES = {"certificate": "pass.pem", "key": "pass.key", "wwdr": "wwdr.pem"}
KEY_FILES = ("pass.key", "google.json")  # what must be the service user's alone


def load_identity(config: Config) -> SigningIdentity:
    paths = {part: config.certs_dir / name for part, name in CERTIFICATE_FILES.items()}
    for part, path in paths.items():
        if not path.is_file():
            hint = " (run `loyalpass certs dev` for a development chain)" if part != "wwdr" \
                else " (download Apple's WWDR G4 intermediate; see certs.example/README.md)"
            raise ConfigError(f"{path} is missing: Loyalpass needs it to sign passes{hint}.")
    password = config.pass_key_password.encode() if config.pass_key_password else None
    try:
        return load_signing_identity(
            certificate_pem=paths["certificate"].read_bytes(),
            private_key_pem=paths["key"].read_bytes(),
            wwdr_pem=paths["wwdr"].read_bytes(),
            password=password,
        )
    except CertificateError as error:
        raise ConfigError(f"{paths[error.part]}: {error}") from None


def write_development_chain(certs_dir: Path, *, password: bytes | None = None) -> bool:
    """Write a development chain unless one (or a real one) is there; True when written."""
    files = [certs_dir / name for name in CERTIFICATE_FILES.values()]
    present = [path for path in files if path.exists()]
    if present:
        return False
    chain = make_development_chain(key_password=password)
    certs_dir.mkdir(parents=True, exist_ok=True)
    (certs_dir / "root.pem").write_bytes(chain.root_pem)
    (certs_dir / "wwdr.pem").write_bytes(chain.wwdr_pem)
    (certs_dir / "pass.pem").write_bytes(chain.certificate_pem)
    write_private(certs_dir / "pass.key", chain.private_key_pem)
    return True


def check_key_files(config: Config) -> None:
    """Private keys in ``LOYALPASS_CERTS_DIR`` that others may read: a warning in
    development, a refusal to start in production (``ConfigError`` naming the file)."""
    for name in KEY_FILES:
        path = config.certs_dir / name
        mode = readable_by_others(path)
        if mode is None:
            continue
        problem = (f"{path} is open to group or others (mode {mode:04o}): run "
                   f"`chmod 600 {path}` so that only the service's user can read the key.")
        if not config.development:
            raise ConfigError(problem)
        log.warning(problem)
