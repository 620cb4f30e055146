"""Database tables. Nothing is stored about a resident who has not consented (see Resident)."""
from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import JSON
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """A timestamp that is always timezone-aware UTC in Python (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime}


class Resident(Base):
    """A person who said yes to keeping their learning progress.

    A row exists only after explicit consent (consent_at is when they pressed the button).
    Ethnicity is sensitive data under Luật 91/2025/QH15 and is never asked or stored.
    """

    __tablename__ = "residents"
    __table_args__ = (UniqueConstraint("platform", "external_id", name="uq_resident_platform_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    first_name: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8), default="vi")
    consent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    consent_version: Mapped[str] = mapped_column(String(16))
    village_id: Mapped[str | None] = mapped_column(String(64))
    group_id: Mapped[str | None] = mapped_column(String(32))
    age_band: Mapped[str | None] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Self-reported: "I have been certified on VNeID / binhdanhocvuso" (counts toward the target).
    certified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reminders: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")   # /caidat
    last_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A village official who uses the bot gets the report-deadline reminders (set by an admin).
    official: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    ambassador_since: Mapped[datetime | None] = mapped_column(UTCDateTime())   # a Đại sứ số
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id", ondelete="SET NULL"), index=True)
    # The last free-text question answered (as the unanswered log keeps it: bot/qa/normalize.for_log)
    # and the key of the answer it got, or the keys offered while the resident picks one (space
    # between them). A 👍/👎 button is too short to carry the question, so the vote reads it here;
    # kept on this row, it goes with the resident when they are forgotten.
    asked_question: Mapped[str | None] = mapped_column(String(200))
    asked_answer: Mapped[str | None] = mapped_column(String(200))
    # Where buttons are typed numbers (Zalo): the button data of the last message that offered
    # choices, by number ({"1": "s:vneid:2", "0": "m"}). It names targets only, so an old number
    # stays harmless. Only residents have it: before consent the channel keeps it in memory.
    offered_choices: Mapped[dict | None] = mapped_column(JSON)
    # "Tôi muốn nghe" (/caidat, the profile): every lesson step comes with its audio, unasked.
    listen: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # An official's /ghiam waiting for its voice note: "<language> <media key>" (bot/media/keys.py).
    recording_for: Mapped[str | None] = mapped_column(String(160))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    progress: Mapped[list[Progress]] = relationship(
        back_populates="resident", cascade="all, delete-orphan", passive_deletes=True
    )


class Progress(Base):
    """Where a resident is in a course: the step they last opened."""

    __tablename__ = "progress"

    resident_id: Mapped[int] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), primary_key=True
    )
    course_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    step_index: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    resident: Mapped[Resident] = relationship(back_populates="progress")


class QuizAttempt(Base):
    __tablename__ = "quiz_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_id: Mapped[int] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), index=True
    )
    course_id: Mapped[str] = mapped_column(String(64))
    total: Mapped[int] = mapped_column(Integer)
    correct: Mapped[int] = mapped_column(Integer, default=0)
    answered: Mapped[int] = mapped_column(Integer, default=0)
    passed: Mapped[bool | None] = mapped_column(Boolean)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class QuizAnswer(Base):
    """One answer per question per attempt: the primary key stops a double tap counting twice."""

    __tablename__ = "quiz_answers"

    attempt_id: Mapped[int] = mapped_column(
        ForeignKey("quiz_attempts.id", ondelete="CASCADE"), primary_key=True
    )
    question_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    choice: Mapped[int] = mapped_column(Integer)
    correct: Mapped[bool] = mapped_column(Boolean)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Completion(Base):
    """A passed quiz. completed_at is the first pass; best_percent the best score since."""

    __tablename__ = "completions"

    resident_id: Mapped[int] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), primary_key=True
    )
    course_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    best_percent: Mapped[int] = mapped_column(Integer)


class ProcessedUpdate(Base):
    """Update ids already handled, so a redelivered update is handled once."""

    __tablename__ = "processed_updates"

    source: Mapped[str] = mapped_column(String(16), primary_key=True)
    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class ShareCode(Base):
    """A short code standing for a guide share link's payload (g_<course>_<step>_<ambassador>),
    for channels with no deep links (Zalo) and for reading out over the phone. The payload holds
    no secret; household and ambassador invite codes are short by themselves and kept hashed."""

    __tablename__ = "share_codes"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    payload: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class InboxUpdate(Base):
    """A platform update written down before it is acknowledged (a webhook's 200, a long poll's
    next offset), and deleted in the transaction that handles it. What is left after a crash is
    handled at the next start. It holds what the resident sent, so it lives only until handled."""

    __tablename__ = "inbox"

    source: Mapped[str] = mapped_column(String(16), primary_key=True)
    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    chat_id: Mapped[str | None] = mapped_column(String(64), index=True)   # to forget on request
    body: Mapped[dict] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    replays: Mapped[int] = mapped_column(Integer, default=0)   # handled again after a restart


class HealthCheck(Base):
    """One row that /healthz rewrites: proof that the database still takes writes."""

    __tablename__ = "health_check"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class UnansweredQuestion(Base):
    """Free-text questions the assistant could not answer, for content editors.

    Kept normalized, with numbers masked, and with no link to who asked.
    """

    __tablename__ = "unanswered_questions"

    text: Mapped[str] = mapped_column(String(200), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=1)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class AnswerVote(Base):
    """👍/👎 on free-text answers, for content editors: one count per question, answer and vote.

    Like UnansweredQuestion, no link to who voted: no resident, no chat, and days, not times.
    """

    __tablename__ = "answer_votes"

    question: Mapped[str] = mapped_column(String(200), primary_key=True)   # as for_log keeps it
    answer: Mapped[str] = mapped_column(String(80), primary_key=True)      # FAQ id, or "course/step-id"
    vote: Mapped[str] = mapped_column(String(4), primary_key=True)         # "up" or "down"
    count: Mapped[int] = mapped_column(Integer, default=1)
    first_day: Mapped[date] = mapped_column(Date)                          # in the commune's time zone
    last_day: Mapped[date] = mapped_column(Date, index=True)


class AnonymousCounter(Base):
    """Daily counts with no link to any person: all we keep for residents who said no."""

    __tablename__ = "anonymous_counters"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class Village(Base):
    """A thôn, bản or tiểu khu: seeded from knowledge/villages.yaml, then edited through the API."""

    __tablename__ = "villages"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(16))
    adult_population: Mapped[int | None] = mapped_column(Integer)
    households: Mapped[int | None] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, default=0)


class Target(Base):
    """A plan target: the percent of a group to reach by the end of a year."""

    __tablename__ = "targets"

    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    indicator: Mapped[str] = mapped_column(String(32), primary_key=True)
    percent: Mapped[int] = mapped_column(Integer)


class AdminToken(Base):
    """An API token. Only its SHA-256 is kept: tokens are long random strings, so a plain hash
    is enough and lets the lookup be an index hit."""

    __tablename__ = "admin_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    village_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ConsoleUser(Base):
    """An official's account for the web console (/admin). Same roles and village scope as the
    API tokens. Only an argon2 hash of the password is kept."""

    __tablename__ = "console_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    village_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)   # wrong passwords in a row
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ConsoleSession(Base):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is kept."""

    __tablename__ = "console_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("console_users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ReportNote(Base):
    """What an official wrote for a report's narrative sections (Đánh giá chung, Khó khăn…),
    kept per period and village ("" for the whole commune)."""

    __tablename__ = "report_notes"

    period_from: Mapped[date] = mapped_column(Date, primary_key=True)
    period_to: Mapped[date] = mapped_column(Date, primary_key=True)
    village_id: Mapped[str] = mapped_column(String(64), primary_key=True, default="")
    sections: Mapped[dict] = mapped_column(JSON)      # section id -> text
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str] = mapped_column(String(80))


class AuditEntry(Base):
    """Who changed what, and when. Holds ids and field names, never a resident's data."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(128))
    detail: Mapped[dict | None] = mapped_column(JSON)


class Broadcast(Base):
    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    courses: Mapped[list] = mapped_column(JSON, default=list)   # course ids shown as buttons
    audience: Mapped[dict] = mapped_column(JSON, default=dict)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # send_at as asked
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())               # after quiet hours
    status: Mapped[str] = mapped_column(String(16), default="queued")     # queued | cancelled
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    # Queued window by window (admin_api/broadcast_queue.py): for residents with ids up to up_to
    # (the highest when it was made), queued so far up to queued_through.
    up_to: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    queued_through: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OutboxMessage(Base):
    """One proactive message to one resident. The delivery engine drains this table.

    dedupe_key stops a job that runs twice (or on two processes) from queueing twice.
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))   # broadcast | event | reminder | deadline
    broadcast_id: Mapped[int | None] = mapped_column(
        ForeignKey("broadcasts.id", ondelete="CASCADE"), index=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"), index=True)
    # A broadcast's rows leave these empty: the text is read from the broadcast, not copied per resident.
    text: Mapped[str | None] = mapped_column(Text)
    buttons: Mapped[list | None] = mapped_column(JSON)   # rows of [label, button data]
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(12), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(200))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())   # when a sender took it
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True)

    __table_args__ = (Index("ix_outbox_status_due", "status", "due_at"),)


class Event(Base):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    location: Mapped[str] = mapped_column(String(200), default="")
    village_id: Mapped[str | None] = mapped_column(String(64))   # None: the whole commune
    yearly_key: Mapped[str | None] = mapped_column(String(64), unique=True)  # made automatically
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class EventSubscription(Base):
    __tablename__ = "event_subscriptions"

    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), primary_key=True)
    # Its own index as well: the primary key starts with event_id, and forgetting a resident
    # deletes by resident_id.
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"),
                                             primary_key=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AmbassadorInvite(Base):
    """An invite code that makes a resident a Đại sứ số. Only its SHA-256 is kept."""

    __tablename__ = "ambassador_invites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    village_id: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    max_uses: Mapped[int] = mapped_column(Integer, default=1)
    uses: Mapped[int] = mapped_column(Integer, default=0)


class Referral(Base):
    """A neighbour who came through an ambassador's share link. One credit per neighbour."""

    __tablename__ = "referrals"

    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"), primary_key=True)
    ambassador_id: Mapped[int] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class HelpSession(Base):
    """An in-person "cầm tay chỉ việc" session an ambassador logged: topic and how many people."""

    __tablename__ = "help_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ambassador_id: Mapped[int] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[str] = mapped_column(String(64))
    people: Mapped[int] = mapped_column(Integer)
    held_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Household(Base):
    """A family learning together (Gia đình số). Members join with the invite link's code,
    of which only the SHA-256 is kept."""

    __tablename__ = "households"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    village_id: Mapped[str | None] = mapped_column(String(64), index=True)
    created_by: Mapped[int | None] = mapped_column(Integer)   # resident id; no foreign key: they may leave
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WebPushSubscription(Base):
    """Where a web chat resident's browser accepts notifications (the Push API's subscription).

    Kept only for a resident who consented and then allowed notifications; removed with them, when
    the push service says it is gone (404/410), or when they turn notifications off."""

    __tablename__ = "web_push_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"), index=True)
    endpoint: Mapped[str] = mapped_column(String(1024), unique=True)
    p256dh: Mapped[str] = mapped_column(String(128))     # the browser's public key, base64url
    auth: Mapped[str] = mapped_column(String(64))        # the browser's auth secret, base64url
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ServerKey(Base):
    """A key the server made for itself once and shares between processes: the VAPID key that
    signs Web Push requests ("vapid", a PEM private key)."""

    __tablename__ = "server_keys"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ProgressCode(Base):
    """A "Mã tiến độ": a short code that moves a resident's progress to another browser or
    messenger. Only its SHA-256 is kept; it expires after 15 minutes and works once."""

    __tablename__ = "progress_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The resident who typed it and is asked to confirm; the code is spent when they say yes.
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"), index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ReportTally(Base):
    """How many residents joined, reported a certificate, finished the core courses, started a
    course or passed a quiz in a month (the commune's), per cell of the report (bot/tallies.py).
    No resident is named: "" stands for a village or group not given."""

    __tablename__ = "report_tallies"

    month: Mapped[date] = mapped_column(Date, primary_key=True)        # its first day
    measure: Mapped[str] = mapped_column(String(12), primary_key=True)
    village_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    group_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    adult: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    web: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


class Recording(Base):
    """A person's recording of a lesson part, uploaded by an official (/ghiam in the bot, the admin
    API or the console). It is heard instead of the synthesized voice, in its language; Thái and
    H'Mông lessons are heard only this way or from files in knowledge/<lang>/audio/."""

    __tablename__ = "recordings"

    language: Mapped[str] = mapped_column(String(8), primary_key=True)
    key: Mapped[str] = mapped_column(String(120), primary_key=True)   # bot/media/keys.py
    data: Mapped[bytes] = mapped_column(LargeBinary)                  # as sent, at most 2 MB
    sha256: Mapped[str] = mapped_column(String(64))
    seconds: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(16))                   # bot | api | console
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
