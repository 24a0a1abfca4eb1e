"""Building the Salesforce session from settings: three ways to authenticate, clear errors without secrets."""

from __future__ import annotations

from pathlib import Path

import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceError

from bot.settings import Settings

API_VERSION = "59.0"


class CrmConfigError(Exception):
    """Salesforce settings are incomplete or wrong; `problems` holds one line each, never a secret."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("Salesforce is not configured correctly:\n" + "\n".join(f"  - {p}" for p in problems))


class CrmAuthError(Exception):
    """Salesforce refused the credentials; the message says which mode failed and why, never the secret."""


def _secret(value) -> str | None:
    return value.get_secret_value() if value is not None else None


def _secrets(settings: Settings) -> list[str]:
    values = [
        _secret(settings.salesforce_access_token),
        _secret(settings.salesforce_password),
        _secret(settings.salesforce_security_token),
    ]
    return [v for v in values if v and len(v) >= 4]


def scrub(text: str, settings: Settings) -> str:
    """Remove any secret from a message before it is shown or stored."""
    for secret in _secrets(settings):
        text = text.replace(secret, "***")
    password, token = _secret(settings.salesforce_password), _secret(settings.salesforce_security_token)
    if password and token:
        text = text.replace(password + token, "***")
    return text


def auth_mode(settings: Settings) -> str | None:
    """Which way to log in: "access_token", "password", "jwt", or None when Salesforce is not set up."""
    if settings.salesforce_access_token is not None:
        return "access_token"
    if settings.salesforce_password is not None or settings.salesforce_security_token is not None:
        return "password"
    if settings.salesforce_consumer_key or settings.salesforce_private_key_file:
        return "jwt"
    if settings.salesforce_instance_url:
        return "access_token"
    if settings.salesforce_username:
        return "password"
    return None


def salesforce_configured(settings: Settings) -> bool:
    return auth_mode(settings) is not None


def check_salesforce_settings(settings: Settings) -> list[str]:
    """Problems with the Salesforce settings, one line each (empty when fine or not configured at all)."""
    mode = auth_mode(settings)
    problems: list[str] = []
    need: dict[str, object] = {}
    if mode == "access_token":
        need = {
            "SALESFORCE_INSTANCE_URL": settings.salesforce_instance_url,
            "SALESFORCE_ACCESS_TOKEN": settings.salesforce_access_token,
        }
        url = settings.salesforce_instance_url or ""
        if url and not url.startswith(("https://", "http://")):
            problems.append("SALESFORCE_INSTANCE_URL: must be a URL such as https://mycompany.my.salesforce.com")
    elif mode == "password":
        need = {
            "SALESFORCE_USERNAME": settings.salesforce_username,
            "SALESFORCE_PASSWORD": settings.salesforce_password,
            "SALESFORCE_SECURITY_TOKEN": settings.salesforce_security_token,
        }
    elif mode == "jwt":
        need = {
            "SALESFORCE_USERNAME": settings.salesforce_username,
            "SALESFORCE_CONSUMER_KEY": settings.salesforce_consumer_key,
            "SALESFORCE_PRIVATE_KEY_FILE": settings.salesforce_private_key_file,
        }
        key = settings.salesforce_private_key_file
        if key is not None and not Path(key).is_file():
            problems.append(f"SALESFORCE_PRIVATE_KEY_FILE: no such file: {key}")
    missing = [name for name, value in need.items() if value is None or value == ""]
    if missing:
        problems.insert(0, f"{mode.replace('_', ' ')} login needs {', '.join(missing)} (not set)")
    bundle = settings.salesforce_ca_bundle
    if mode and bundle is not None and not Path(bundle).is_file():
        problems.append(f"SALESFORCE_CA_BUNDLE: no such file: {bundle}")
    if mode and ("/" in settings.salesforce_domain or "salesforce.com" in settings.salesforce_domain):
        problems.append("SALESFORCE_DOMAIN: give 'login', 'test' or a My Domain prefix such as 'mycompany.my'")
    return problems


def _http_session(settings: Settings, session: requests.Session | None) -> requests.Session:
    session = session or requests.Session()
    if settings.salesforce_ca_bundle is not None:
        # REQUESTS_CA_BUNDLE from the environment would silently win over `verify` otherwise.
        session.trust_env = False
        session.verify = str(settings.salesforce_ca_bundle)
    return session


def build_salesforce(settings: Settings, *, session: requests.Session | None = None) -> Salesforce:
    """A logged-in `Salesforce` client; raises CrmConfigError or CrmAuthError (never with a secret inside)."""
    problems = check_salesforce_settings(settings)
    mode = auth_mode(settings)
    if mode is None:
        problems = [
            "no Salesforce settings: set SALESFORCE_INSTANCE_URL and SALESFORCE_ACCESS_TOKEN, "
            "or a username login (see salesforce/README.md)"
        ]
    if problems:
        raise CrmConfigError(problems)
    http = _http_session(settings, session)
    common = {"session": http, "version": API_VERSION, "domain": settings.salesforce_domain}
    try:
        if mode == "access_token":
            return Salesforce(
                instance_url=settings.salesforce_instance_url,
                session_id=_secret(settings.salesforce_access_token),
                **common,
            )
        if mode == "password":
            return Salesforce(
                username=settings.salesforce_username,
                password=_secret(settings.salesforce_password),
                security_token=_secret(settings.salesforce_security_token),
                **common,
            )
        return Salesforce(
            username=settings.salesforce_username,
            consumer_key=settings.salesforce_consumer_key,
            privatekey_file=str(settings.salesforce_private_key_file),
            **common,
        )
    except SalesforceAuthenticationFailed as exc:
        raise CrmAuthError(scrub(f"Salesforce {mode.replace('_', ' ')} login failed: {exc}", settings)) from None
    except (requests.RequestException, SalesforceError, ValueError, OSError) as exc:
        reason = scrub(f"{type(exc).__name__}: {exc}", settings)
        raise CrmAuthError(f"Salesforce {mode.replace('_', ' ')} login failed: {reason}") from None


def verify_salesforce(settings: Settings, *, session: requests.Session | None = None) -> Salesforce:
    """Log in and make one cheap call, so bad credentials stop start-up with a clear message."""
    sf = build_salesforce(settings, session=session)
    try:
        sf.limits(timeout=30)
    except (requests.RequestException, SalesforceError) as exc:
        code = _error_code(exc)
        raise CrmAuthError(
            scrub(f"Salesforce refused the {auth_mode(settings)} credentials ({code})", settings)
        ) from None
    return sf


def _error_code(exc: Exception) -> str:
    content = getattr(exc, "content", None)
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return str(content[0].get("errorCode", type(exc).__name__))
    return type(exc).__name__
