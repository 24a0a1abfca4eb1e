"""Settings from the environment or `.env`, validated once at start-up."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

SLACK_DEFAULT_API_URL = "https://slack.com/api/"


class SettingsError(Exception):
    """Start-up configuration is invalid; `problems` holds one line per problem, never a secret."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("Invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))


class StartupProblem(Exception):
    """Something outside the settings stops start-up; the message is one line naming the setting and the fix."""


class Settings(BaseSettings):
    """Everything the bot reads from its environment. Secrets are `SecretStr` so they never print."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = SLACK_DEFAULT_API_URL
    database_url: str = "sqlite:///partnerbot.db"
    host: str = "0.0.0.0"
    port: int = Field(default=3000, ge=1, le=65535)
    program_file: Path = Path("program.yml")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # "off": `partnerbot serve` runs no scheduler (its worker still sends); `partnerbot scheduler` runs one alone.
    scheduler: Literal["on", "off"] = "on"

    salesforce_instance_url: str | None = None
    salesforce_access_token: SecretStr | None = None
    salesforce_username: str | None = None
    salesforce_password: SecretStr | None = None
    salesforce_security_token: SecretStr | None = None
    salesforce_consumer_key: str | None = None
    salesforce_private_key_file: Path | None = None
    salesforce_domain: str = "login"
    salesforce_ca_bundle: Path | None = None
    crm_api_usage_threshold: float = Field(default=0.8, gt=0, le=1)

    @field_validator("slack_api_url")
    @classmethod
    def _api_url_shape(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL such as https://slack.com/api/")
        return value if value.endswith("/") else value + "/"

    @field_validator("database_url")
    @classmethod
    def _database_url_shape(cls, value: str) -> str:
        return normalize_database_url(value)

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xoxb-"):
            raise ValueError("must be a bot token starting with xoxb-")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xapp-"):
            raise ValueError("must be an app-level token starting with xapp-")
        return value

    @model_validator(mode="after")
    def _slack_pairs(self) -> "Settings":
        if self.slack_bot_token and not (self.slack_signing_secret or self.slack_app_token):
            raise ValueError(
                "SLACK_BOT_TOKEN is set but neither SLACK_SIGNING_SECRET (HTTP mode) "
                "nor SLACK_APP_TOKEN (Socket Mode) is"
            )
        if (self.slack_signing_secret or self.slack_app_token) and not self.slack_bot_token:
            raise ValueError("SLACK_SIGNING_SECRET or SLACK_APP_TOKEN is set but SLACK_BOT_TOKEN is not")
        return self

    @property
    def has_slack_credentials(self) -> bool:
        return self.slack_bot_token is not None

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None


def normalize_database_url(value: str) -> str:
    """Parse DATABASE_URL; `postgres://` (as many hosts hand it out) means the installed psycopg driver."""
    try:
        url = make_url(value)
    except Exception:  # noqa: BLE001 - SQLAlchemy raises several kinds; the value may hold a password
        raise ValueError("is not a database URL such as postgresql+psycopg://user:password@host/db "
                         "or sqlite:///partnerbot.db") from None
    if url.drivername in ("postgres", "postgresql"):  # swap the scheme only: re-rendering would re-quote
        value = "postgresql+psycopg://" + value.split("://", 1)[1]
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:" \
            and not url.database.startswith("file:"):
        folder = Path(url.database).expanduser().parent
        if not folder.is_dir():
            raise ValueError(f"the folder {folder} for the SQLite file does not exist: create it or change the path")
    return value


def load_settings(**overrides) -> Settings:
    """Build settings, turning pydantic's errors into one line per problem without echoing values."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            field = "_".join(str(part) for part in error["loc"]).upper()
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{field}: {message}" if field else message)
        raise SettingsError(problems) from None


SECRET_NAMES = re.compile(r"TOKEN|SECRET|PASSWORD|KEY", re.IGNORECASE)
URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s]+@")


def redact(text: str, settings: Settings | None = None) -> str:
    """Secrets out of a message: values of secret-looking variables and of `settings`' secrets (read from the
    environment and `.env` when not given), and passwords inside URLs."""
    secrets = [value for name, value in os.environ.items() if SECRET_NAMES.search(name)]
    try:  # `.env` holds secrets the environment does not
        settings = settings or load_settings()
        secrets += [v.get_secret_value() for v in settings.model_dump().values() if isinstance(v, SecretStr)]
    except Exception:  # noqa: BLE001 - settings that don't load have no secrets to add
        pass
    for value in secrets:
        if value and len(value) >= 4:
            text = text.replace(value, "***")
    return URL_PASSWORD.sub(r"\1***@", text)
