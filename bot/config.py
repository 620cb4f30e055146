"""Settings from the environment (documented in README.md)."""
from __future__ import annotations

from datetime import time
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = REPO_ROOT / "var" / "hocvuso.db"
DEFAULT_MEDIA_DIR = REPO_ROOT / "var" / "media"
LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
# The admin token is redacted from the logs by its text: a short one would redact every
# occurrence of its letters, and is guessable. `hocvuso admin create-token` makes 43 characters.
ADMIN_TOKEN_MIN = 32
WEBHOOK_SECRET_MIN = 16
ZALO_SECRET_MIN = 16          # Zalo takes 8 to 256 characters; 16 is the least we accept as a secret
WEBHOOK_PORTS = (443, 80, 88, 8443)   # the only ports Telegram delivers webhooks to

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


def parse_quiet_hours(value: str) -> tuple[time, time]:
    try:
        start, end = (time.fromisoformat(part.strip()) for part in value.split("-"))
    except ValueError:
        raise ValueError("HOCVUSO_QUIET_HOURS must look like 21:00-07:00") from None
    return start, end


def check_http_url(value: str, *, https_only: bool = False) -> str:
    parts = urlsplit(value)
    schemes = ("https",) if https_only else ("http", "https")
    if parts.scheme not in schemes or not parts.hostname:
        raise ValueError(f"must be a {' or '.join(schemes)} URL with a host, like {schemes[-1]}://example.org")
    try:
        parts.port
    except ValueError:
        raise ValueError("has a port that is not a number from 1 to 65535") from None
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", populate_by_name=True)

    telegram_bot_token: str | None = Field(default=None, alias="TELEGRAM_BOT_TOKEN")
    telegram_api_url: str = Field(default="https://api.telegram.org", alias="TELEGRAM_API_URL")
    telegram_webhook_url: str | None = Field(default=None, alias="TELEGRAM_WEBHOOK_URL")
    telegram_webhook_secret: str | None = Field(default=None, alias="TELEGRAM_WEBHOOK_SECRET")

    # Zalo Bot Platform (bot/channels/zalo/): on when ZALO_BOT_TOKEN is set.
    zalo_bot_token: str | None = Field(default=None, alias="ZALO_BOT_TOKEN")
    zalo_api_url: str = Field(default="https://bot-api.zaloplatforms.com", alias="ZALO_API_URL")
    zalo_webhook_url: str | None = Field(default=None, alias="ZALO_WEBHOOK_URL")
    zalo_webhook_secret: str | None = Field(default=None, alias="ZALO_WEBHOOK_SECRET")
    # Zalo documents no rate limit: messages per second, replies and the outbox together.
    zalo_send_rate: float = Field(default=10.0, gt=0, le=1000, allow_inf_nan=False, alias="ZALO_SEND_RATE")

    # The address residents open (https://...): web share links (/chat?start=...), the posters' QR
    # codes, and the contact a Web Push service is given. Unset: web links show a short code, and
    # the web chat offers no notifications.
    public_url: str | None = Field(default=None, alias="HOCVUSO_PUBLIC_URL")
    # Websites that may show the chat in a panel (the embed snippet), space-separated origins.
    embed_origins: str = Field(default="", alias="HOCVUSO_EMBED_ORIGINS")
    # The link that opens the Zalo bot, copied from Zalo's bot manager, for the posters' QR code.
    zalo_bot_link: str | None = Field(default=None, alias="ZALO_BOT_LINK")
    # Push services a browser's subscription may point to (hosts, space-separated). The server posts
    # to the address a browser hands it, so only these known services are accepted.
    webpush_hosts: str = Field(default="fcm.googleapis.com updates.push.services.mozilla.com "
                                       "*.notify.windows.com web.push.apple.com", alias="WEBPUSH_HOSTS")

    database_url: str = Field(default=f"sqlite:///{DEFAULT_DB}", alias="HOCVUSO_DATABASE_URL")
    host: str = Field(default="127.0.0.1", alias="HOCVUSO_HOST")
    port: int = Field(default=8080, ge=1, le=65535, alias="HOCVUSO_PORT")
    admin_token: str | None = Field(default=None, alias="HOCVUSO_ADMIN_TOKEN")

    knowledge_dir: Path = Field(default=REPO_ROOT / "knowledge", alias="HOCVUSO_KNOWLEDGE_DIR")
    # The lessons' audio, made once and kept (bot/media/library.py): a folder the server can write.
    # Deleting it is harmless; every file is made again when first asked for.
    media_dir: Path = Field(default=DEFAULT_MEDIA_DIR, alias="HOCVUSO_MEDIA_DIR")
    timezone: str = Field(default="Asia/Ho_Chi_Minh", alias="HOCVUSO_TIMEZONE")
    log_level: str = Field(default="INFO", alias="HOCVUSO_LOG_LEVEL")
    # Proactive sending (the outbox): messages per second overall; Telegram allows about 30.
    send_rate: float = Field(default=25.0, gt=0, le=1000, allow_inf_nan=False, alias="HOCVUSO_SEND_RATE")
    # Paid broadcasts (allow_paid_broadcast, Telegram Stars): up to 1000 messages per second.
    paid_broadcast: bool = Field(default=False, alias="HOCVUSO_PAID_BROADCAST")
    paid_send_rate: float = Field(default=1000.0, gt=0, le=1000, allow_inf_nan=False,
                                  alias="HOCVUSO_PAID_SEND_RATE")
    # A resident idle this many days in a started course gets a gentle reminder (at most weekly).
    reminder_days: int = Field(default=3, ge=1, le=60, alias="HOCVUSO_REMINDER_DAYS")
    # Proactive messages wait for the morning unless urgent: "HH:MM-HH:MM", local time.
    quiet_hours: str = Field(default="21:00-07:00", alias="HOCVUSO_QUIET_HOURS")

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        if value.upper() not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return value.upper()

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("is not a known time zone; use a name like Asia/Ho_Chi_Minh") from None
        return value

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        try:
            url = make_url(value)
        except (ArgumentError, ValueError):
            raise ValueError("is not a database URL; use sqlite:///path/to/file.db or "
                             "postgresql+psycopg://user:password@host/database") from None
        if url.drivername == "postgresql+psycopg":
            return value
        if url.drivername == "postgresql":
            # psycopg (3) is the driver installed; to SQLAlchemy a bare "postgresql://" means psycopg2.
            return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
        if url.get_backend_name() == "sqlite" and url.get_driver_name() == "pysqlite":
            if not url.database or url.database == ":memory:":
                raise ValueError("needs a file: sqlite:///path/to/file.db")
            return value
        raise ValueError(f"uses {url.drivername!r}; only SQLite (sqlite:///file.db) and PostgreSQL "
                         "(postgresql+psycopg://...) are supported")

    @field_validator("telegram_api_url", "zalo_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        return check_http_url(value)

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        host = urlsplit(value).hostname or ""
        # Browsers allow notifications and installing only on https, or on this machine itself.
        check_http_url(value, https_only=host not in LOCAL_HOSTS)
        if urlsplit(value).path.strip("/") or urlsplit(value).query:
            raise ValueError("must be the site's address only, with no path, like https://hocvuso.example.org")
        return value.rstrip("/")

    @field_validator("zalo_bot_link")
    @classmethod
    def _zalo_bot_link(cls, value: str | None) -> str | None:
        return None if value is None else check_http_url(value, https_only=True)

    @field_validator("embed_origins")
    @classmethod
    def _embed_origins(cls, value: str) -> str:
        for origin in value.split():
            parts = urlsplit(origin)
            check_http_url(origin)
            if parts.path or parts.query:
                raise ValueError(f"{origin!r} must be an origin only, like https://thuanchau.sonla.gov.vn")
        return value

    @field_validator("zalo_webhook_url")
    @classmethod
    def _zalo_webhook_url(cls, value: str | None) -> str | None:
        return None if value is None else check_http_url(value, https_only=True)

    @field_validator("telegram_webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        check_http_url(value, https_only=True)
        if (urlsplit(value).port or 443) not in WEBHOOK_PORTS:
            raise ValueError(f"must use one of the ports Telegram delivers to: {', '.join(map(str, WEBHOOK_PORTS))}")
        return value

    @field_validator("admin_token")
    @classmethod
    def _long_admin_token(cls, value: str | None) -> str | None:
        if value is not None and len(value) < ADMIN_TOKEN_MIN:
            raise ValueError(f"must be at least {ADMIN_TOKEN_MIN} characters (make one with: "
                             "python3 -c 'import secrets; print(secrets.token_urlsafe(32))')")
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_hours_format(cls, value: str) -> str:
        parse_quiet_hours(value)
        return value

    @property
    def quiet(self) -> tuple[time, time]:
        return parse_quiet_hours(self.quiet_hours)

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> "Settings":
        if self.telegram_webhook_url and not self.telegram_webhook_secret:
            raise ValueError("TELEGRAM_WEBHOOK_SECRET must be set when TELEGRAM_WEBHOOK_URL is set")
        secret = self.telegram_webhook_secret
        if secret and not all(c.isascii() and (c.isalnum() or c in "_-") for c in secret):
            raise ValueError("TELEGRAM_WEBHOOK_SECRET may only use A-Z, a-z, 0-9, _ and -")
        if secret and not WEBHOOK_SECRET_MIN <= len(secret) <= 256:
            raise ValueError(f"TELEGRAM_WEBHOOK_SECRET must be {WEBHOOK_SECRET_MIN} to 256 characters")
        if self.zalo_webhook_url and not self.zalo_webhook_secret:
            raise ValueError("ZALO_WEBHOOK_SECRET must be set when ZALO_WEBHOOK_URL is set")
        zalo_secret = self.zalo_webhook_secret
        if zalo_secret and not ZALO_SECRET_MIN <= len(zalo_secret) <= 256:
            raise ValueError(f"ZALO_WEBHOOK_SECRET must be {ZALO_SECRET_MIN} to 256 characters")
        if zalo_secret and not zalo_secret.isascii():
            raise ValueError("ZALO_WEBHOOK_SECRET may only use ASCII letters, digits and signs")
        if self.zalo_webhook_url and not self.zalo_bot_token:
            raise ValueError("ZALO_WEBHOOK_URL is set but ZALO_BOT_TOKEN is not")
        return self

    @property
    def effective_send_rate(self) -> float:
        return self.paid_send_rate if self.paid_broadcast else self.send_rate

    @property
    def web_push_enabled(self) -> bool:
        """Web Push needs a public address: the push services want a contact for the sender."""
        return bool(self.public_url)

    @property
    def telegram_enabled(self) -> bool:
        return bool(self.telegram_bot_token)

    @property
    def zalo_enabled(self) -> bool:
        return bool(self.zalo_bot_token)

    @property
    def zalo_webhook_mode(self) -> bool:
        return bool(self.zalo_webhook_url)

    @property
    def webhook_mode(self) -> bool:
        return bool(self.telegram_webhook_url)
