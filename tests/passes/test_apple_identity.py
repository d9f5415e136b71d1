"""Loading the signing identity, and the development chain it is usually made from."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from passes.apple import (
    CertificateError,
    DevelopmentChain,
    load_signing_identity,
    make_development_chain,
    sign_manifest,
)


def load(chain: Any, **overrides: Any) -> Any:
    arguments = {
        "certificate_pem": chain.certificate_pem,
        "private_key_pem": chain.private_key_pem,
        "wwdr_pem": chain.wwdr_pem,
    }
    arguments.update(overrides)
    return load_signing_identity(**arguments)


def test_identifiers_come_from_the_certificate_subject(chain: DevelopmentChain) -> None:
    identity = load(chain)
    assert identity.pass_type_identifier == "pass.dev.loyalpass.card"
    assert identity.team_identifier == "LOYALDEV01"
    assert identity.wwdr.subject == identity.certificate.issuer


def test_custom_identifiers_of_a_development_chain_are_read_back() -> None:
    chain = make_development_chain(pass_type_identifier="pass.example.x", team_identifier="TEAM42")
    identity = load(chain)
    assert (identity.pass_type_identifier, identity.team_identifier) == ("pass.example.x", "TEAM42")


def test_certificates_in_der_are_accepted_like_apples_cer_files(chain: DevelopmentChain) -> None:
    certificate = x509.load_pem_x509_certificate(chain.certificate_pem)
    wwdr = x509.load_pem_x509_certificate(chain.wwdr_pem)
    der = serialization.Encoding.DER
    identity = load(
        chain, certificate_pem=certificate.public_bytes(der), wwdr_pem=wwdr.public_bytes(der)
    )
    assert identity.certificate == certificate


def test_encrypted_key_loads_with_its_password_and_signs(
    encrypted_chain: DevelopmentChain, key_password: bytes
) -> None:
    assert b"ENCRYPTED" in encrypted_chain.private_key_pem
    identity = load(encrypted_chain, password=key_password)
    assert sign_manifest(b"{}", identity)


def test_encrypted_key_without_password_is_a_key_error(encrypted_chain: DevelopmentChain) -> None:
    with pytest.raises(CertificateError) as caught:
        load(encrypted_chain)
    assert caught.value.part == "key"
    assert "no password" in str(caught.value)


def test_encrypted_key_with_wrong_password_is_a_key_error(
    encrypted_chain: DevelopmentChain,
) -> None:
    with pytest.raises(CertificateError) as caught:
        load(encrypted_chain, password=b"wrong")
    assert caught.value.part == "key"
    assert "password" in str(caught.value)


def test_password_for_an_unencrypted_key_is_ignored(chain: DevelopmentChain) -> None:
    assert load(chain, password=b"unneeded").team_identifier == "LOYALDEV01"


def test_key_of_another_certificate_is_a_key_error(
    chain: DevelopmentChain, other_chain: DevelopmentChain
) -> None:
    with pytest.raises(CertificateError) as caught:
        load(chain, private_key_pem=other_chain.private_key_pem)
    assert caught.value.part == "key"
    assert "does not belong" in str(caught.value)


def test_wwdr_with_the_right_name_but_wrong_key_is_a_wwdr_error(
    chain: DevelopmentChain, other_chain: DevelopmentChain
) -> None:
    with pytest.raises(CertificateError) as caught:
        load(chain, wwdr_pem=other_chain.wwdr_pem)
    assert caught.value.part == "wwdr"
    assert "does not verify" in str(caught.value)


def test_wwdr_that_is_not_the_issuer_by_name_is_a_wwdr_error(
    chain: DevelopmentChain, make_chain: Callable[..., Any]
) -> None:
    stranger = make_chain(wwdr_name="Some Other Intermediate")
    with pytest.raises(CertificateError) as caught:
        load(chain, wwdr_pem=stranger.wwdr_pem)
    assert caught.value.part == "wwdr"
    assert "did not issue" in str(caught.value)
    assert "Some Other Intermediate" in str(caught.value)


def test_root_given_as_wwdr_is_a_wwdr_error(chain: DevelopmentChain) -> None:
    with pytest.raises(CertificateError) as caught:
        load(chain, wwdr_pem=chain.root_pem)
    assert caught.value.part == "wwdr"


def test_expired_certificate_is_a_certificate_error_naming_the_date(
    chain: DevelopmentChain,
) -> None:
    not_after = x509.load_pem_x509_certificate(chain.certificate_pem).not_valid_after_utc
    with pytest.raises(CertificateError) as caught:
        load(chain, now=not_after + timedelta(days=1))
    assert caught.value.part == "certificate"
    assert f"expired on {not_after:%Y-%m-%d}" in str(caught.value)


def test_certificate_not_yet_valid_is_a_certificate_error(chain: DevelopmentChain) -> None:
    not_before = x509.load_pem_x509_certificate(chain.certificate_pem).not_valid_before_utc
    with pytest.raises(CertificateError) as caught:
        load(chain, now=not_before - timedelta(days=1))
    assert caught.value.part == "certificate"
    assert f"not valid until {not_before:%Y-%m-%d}" in str(caught.value)


def test_expired_wwdr_is_a_wwdr_error(make_chain: Callable[..., Any]) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=400)
    expired = make_chain(wwdr_start=long_ago, wwdr_days=30)
    with pytest.raises(CertificateError) as caught:
        load(expired)
    assert caught.value.part == "wwdr"
    assert "expired on" in str(caught.value)


def test_certificate_without_uid_is_not_a_pass_certificate(make_chain: Callable[..., Any]) -> None:
    without_uid = make_chain(
        leaf_attributes=[
            x509.NameAttribute(NameOID.COMMON_NAME, "Just a certificate"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "TEAM"),
        ]
    )
    with pytest.raises(CertificateError) as caught:
        load(without_uid)
    assert caught.value.part == "certificate"
    assert "UID" in str(caught.value)


def test_certificate_without_ou_has_no_team_identifier(make_chain: Callable[..., Any]) -> None:
    without_ou = make_chain(
        leaf_attributes=[x509.NameAttribute(NameOID.USER_ID, "pass.test.no-ou")]
    )
    with pytest.raises(CertificateError) as caught:
        load(without_ou)
    assert caught.value.part == "certificate"
    assert "OU" in str(caught.value)


def test_ec_identity_loads(make_chain: Callable[..., Any]) -> None:
    identity = load(make_chain())
    assert identity.pass_type_identifier == "pass.test.custom"
    assert identity.team_identifier == "TEAMCUSTOM"


@pytest.mark.parametrize(
    ("argument", "part"),
    [("certificate_pem", "certificate"), ("private_key_pem", "key"), ("wwdr_pem", "wwdr")],
)
@pytest.mark.parametrize(
    "garbage",
    [b"", b"not a certificate", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"],
)
def test_garbage_is_reported_for_the_part_it_was_given_as(
    chain: DevelopmentChain, argument: str, part: str, garbage: bytes
) -> None:
    with pytest.raises(CertificateError) as caught:
        load(chain, **{argument: garbage})
    assert caught.value.part == part
    assert str(caught.value).endswith(".")


def test_certificate_given_as_the_key_is_a_key_error(chain: DevelopmentChain) -> None:
    with pytest.raises(CertificateError) as caught:
        load(chain, private_key_pem=chain.certificate_pem)
    assert caught.value.part == "key"


def test_naive_now_is_refused(chain: DevelopmentChain) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        load(chain, now=datetime(2030, 1, 1))


def test_certificate_error_carries_part_and_a_plain_message() -> None:
    error = CertificateError("wwdr", "The WWDR is wrong.")
    assert (error.part, str(error)) == ("wwdr", "The WWDR is wrong.")
    assert isinstance(error, ValueError)
    with pytest.raises(ValueError):
        CertificateError("pem", "unknown part")


def test_development_leaf_is_shaped_like_a_pass_type_id_certificate(
    chain: DevelopmentChain,
) -> None:
    leaf = x509.load_pem_x509_certificate(chain.certificate_pem)
    subject = {attribute.oid: attribute.value for attribute in leaf.subject}
    assert subject[NameOID.USER_ID] == "pass.dev.loyalpass.card"
    assert subject[NameOID.COMMON_NAME] == "Pass Type ID: pass.dev.loyalpass.card"
    assert subject[NameOID.ORGANIZATIONAL_UNIT_NAME] == "LOYALDEV01"
    assert subject[NameOID.ORGANIZATION_NAME] == "Loyalpass Development"
    assert subject[NameOID.COUNTRY_NAME] == "US"
    usages = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.CLIENT_AUTH in usages
    assert x509.ObjectIdentifier("1.2.840.113635.100.4.14") in usages
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    public_key = leaf.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey) and public_key.key_size == 2048
    lifetime = leaf.not_valid_after_utc - leaf.not_valid_before_utc
    assert timedelta(days=3 * 365 - 5) <= lifetime <= timedelta(days=3 * 366)


def test_development_intermediate_is_a_ca_issued_by_the_root(chain: DevelopmentChain) -> None:
    root = x509.load_pem_x509_certificate(chain.root_pem)
    wwdr = x509.load_pem_x509_certificate(chain.wwdr_pem)
    assert wwdr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
        "Loyalpass Development WWDR"
    )
    assert root.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
        "Loyalpass Development Root CA"
    )
    assert wwdr.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    wwdr.verify_directly_issued_by(root)
    root.verify_directly_issued_by(root)


def test_development_key_is_plain_without_a_password(chain: DevelopmentChain) -> None:
    assert chain.private_key_pem.startswith(b"-----BEGIN PRIVATE KEY-----")
