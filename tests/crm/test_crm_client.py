"""Connecting to Salesforce from settings: three login modes against the fake, and errors that never leak a secret."""

from __future__ import annotations

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.settings import load_settings
from storage.crm.client import (
    CrmAuthError,
    CrmConfigError,
    auth_mode,
    build_salesforce,
    check_salesforce_settings,
    verify_salesforce,
)


def settings(**values):
    return load_settings(_env_file=None, **values)


def test_modes_and_missing_settings_are_named_without_values():
    assert auth_mode(settings()) is None and check_salesforce_settings(settings()) == []
    assert auth_mode(settings(salesforce_access_token="tok-123456")) == "access_token"
    assert check_salesforce_settings(settings(salesforce_access_token="tok-123456")) == [
        "access token login needs SALESFORCE_INSTANCE_URL (not set)"
    ]
    problems = check_salesforce_settings(
        settings(salesforce_username="bot@example.com", salesforce_password="hunter22")
    )
    assert problems == ["password login needs SALESFORCE_SECURITY_TOKEN (not set)"]
    problems = check_salesforce_settings(
        settings(
            salesforce_username="bot@example.com",
            salesforce_consumer_key="ck",
            salesforce_private_key_file="/nowhere/key.pem",
        )
    )
    assert problems == ["SALESFORCE_PRIVATE_KEY_FILE: no such file: /nowhere/key.pem"]
    with pytest.raises(CrmConfigError) as raised:
        build_salesforce(settings(salesforce_password="hunter22-secret"))
    assert "hunter22-secret" not in str(raised.value)


def test_ca_bundle_is_trusted_even_with_requests_ca_bundle_in_the_environment(fake, sf_settings, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    sf = verify_salesforce(sf_settings)
    assert sf.session.trust_env is False and sf.session.verify == str(fake.ca_bundle)
    assert fake.calls == ["GET limits/"]


def test_bad_access_token_stops_with_a_clear_message(fake, sf_settings):
    bad = sf_settings.model_copy(
        update={"salesforce_access_token": type(sf_settings.salesforce_access_token)("00Dbad!tok3n")}
    )
    with pytest.raises(CrmAuthError) as raised:
        verify_salesforce(bad)
    assert "INVALID_SESSION_ID" in str(raised.value) and "00Dbad!tok3n" not in str(raised.value)


def test_password_login_and_a_wrong_password(fake, database_url):
    good = settings(
        salesforce_username=fake.username,
        salesforce_password=fake.password,
        salesforce_security_token=fake.security_token,
        salesforce_ca_bundle=fake.ca_bundle,
    )
    sf = build_salesforce(good, session=fake.mount_login(requests.Session()))
    assert sf.sf_instance == fake.base_url.removeprefix("https://")
    wrong = good.model_copy(update={"salesforce_password": type(good.salesforce_password)("n0t-the-password")})
    with pytest.raises(CrmAuthError) as raised:
        build_salesforce(wrong, session=fake.mount_login(requests.Session()))
    message = str(raised.value)
    assert "INVALID_LOGIN" in message and "password login failed" in message
    for secret in ("n0t-the-password", fake.security_token):
        assert secret not in message


def test_jwt_bearer_login(tmp_path, fake):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file = tmp_path / "server.key"
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    fake.public_key_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    jwt_settings = settings(
        salesforce_username=fake.username,
        salesforce_consumer_key=fake.consumer_key,
        salesforce_private_key_file=key_file,
        salesforce_ca_bundle=fake.ca_bundle,
    )
    sf = verify_salesforce(jwt_settings, session=fake.mount_login(requests.Session()))
    assert sf.session_id in fake.tokens
    fake.consumer_key = "another-app"
    with pytest.raises(CrmAuthError) as raised:
        build_salesforce(jwt_settings, session=fake.mount_login(requests.Session()))
    assert "invalid_grant" in str(raised.value)
