"""Settings from the environment (documented in README.md)."""
from __future__ import annotations

from datetime import time
from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = REPO_ROOT / "var" / "hocvuso.db"


def parse_quiet_hours(value: str) -> tuple[time, time]:
    try:
        start, end = (time.fromisoformat(part.strip()) for part in value.split("-"))
    except ValueError:
        raise ValueError("HOCVUSO_QUIET_HOURS must look like 21:00-07:00") from None
    return start, end


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", populate_by_name=True)

    telegram_bot_token: str | None = Field(default=None, alias="TELEGRAM_BOT_TOKEN")
    telegram_api_url: str = Field(default="https://api.telegram.org", alias="TELEGRAM_API_URL")
    telegram_webhook_url: str | None = Field(default=None, alias="TELEGRAM_WEBHOOK_URL")
    telegram_webhook_secret: str | None = Field(default=None, alias="TELEGRAM_WEBHOOK_SECRET")

    database_url: str = Field(default=f"sqlite:///{DEFAULT_DB}", alias="HOCVUSO_DATABASE_URL")
    host: str = Field(default="127.0.0.1", alias="HOCVUSO_HOST")
    port: int = Field(default=8080, alias="HOCVUSO_PORT")
    admin_token: str | None = Field(default=None, alias="HOCVUSO_ADMIN_TOKEN")

    knowledge_dir: Path = Field(default=REPO_ROOT / "knowledge", alias="HOCVUSO_KNOWLEDGE_DIR")
    timezone: str = Field(default="Asia/Ho_Chi_Minh", alias="HOCVUSO_TIMEZONE")
    log_level: str = Field(default="INFO", alias="HOCVUSO_LOG_LEVEL")
    # Proactive sending (the outbox): messages per second overall; Telegram allows about 30.
    send_rate: float = Field(default=25.0, gt=0, le=1000, alias="HOCVUSO_SEND_RATE")
    # Paid broadcasts (allow_paid_broadcast, Telegram Stars): up to 1000 messages per second.
    paid_broadcast: bool = Field(default=False, alias="HOCVUSO_PAID_BROADCAST")
    paid_send_rate: float = Field(default=1000.0, gt=0, le=1000, alias="HOCVUSO_PAID_SEND_RATE")
    # A resident idle this many days in a started course gets a gentle reminder (at most weekly).
    reminder_days: int = Field(default=3, ge=1, le=60, alias="HOCVUSO_REMINDER_DAYS")
    # Proactive messages wait for the morning unless urgent: "HH:MM-HH:MM", local time.
    quiet_hours: str = Field(default="21:00-07:00", alias="HOCVUSO_QUIET_HOURS")

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
        if self.telegram_webhook_secret and not all(
                c.isascii() and (c.isalnum() or c in "_-") for c in self.telegram_webhook_secret):
            raise ValueError("TELEGRAM_WEBHOOK_SECRET may only use A-Z, a-z, 0-9, _ and -")
        return self

    @property
    def effective_send_rate(self) -> float:
        return self.paid_send_rate if self.paid_broadcast else self.send_rate

    @property
    def telegram_enabled(self) -> bool:
        return bool(self.telegram_bot_token)

    @property
    def webhook_mode(self) -> bool:
        return bool(self.telegram_webhook_url)
