"""Request and response bodies of the admin API (kept apart from the ORM models)."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Annotated, Any, Literal, get_args, get_type_hints

from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictInt, StringConstraints,
                      create_model)

from admin_api.reports.as_json import json_figures
from admin_api.reports.model import Measure, Row

ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
# Free text may hold any character but NUL, which PostgreSQL cannot store.
NO_NUL = r"^[^\x00]*$"
VillageKind = Literal["thôn", "bản", "tiểu khu", "khu vực"]


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _reasonable_moment(value: datetime) -> datetime:
    if not 2000 <= value.year <= 2100:
        raise ValueError("must be between the years 2000 and 2100")
    return value


Moment = Annotated[datetime, AfterValidator(_reasonable_moment)]
Message = Annotated[str, StringConstraints(min_length=1, max_length=4096), AfterValidator(_not_blank)]
Title = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(_not_blank)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- villages and targets ---------------------------------------------------------------

class VillageIn(Strict):
    id: Id
    name: Annotated[str, StringConstraints(min_length=1, max_length=80), AfterValidator(_not_blank)]
    kind: VillageKind
    adult_population: StrictInt | None = Field(default=None, ge=0, le=10_000_000)
    households: StrictInt | None = Field(default=None, ge=0, le=10_000_000)


class VillagePatch(Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=80), AfterValidator(_not_blank)] | None = None
    kind: VillageKind | None = None
    adult_population: StrictInt | None = Field(default=None, ge=0, le=10_000_000)
    households: StrictInt | None = Field(default=None, ge=0, le=10_000_000)


class VillageOut(BaseModel):
    id: str
    name: str
    kind: str
    adult_population: int | None
    households: int | None
    residents: int


class TargetIn(Strict):
    percent: StrictInt = Field(ge=0, le=100)


class TargetOut(BaseModel):
    year: int
    indicator: str
    label: str
    percent: int


# --- broadcasts ----------------------------------------------------------------------------

class Audience(Strict):
    """Who gets a broadcast. Empty lists mean everyone; the filters combine with AND."""

    villages: list[Id] = Field(default_factory=list, max_length=200)
    groups: list[Id] = Field(default_factory=list, max_length=50)
    age_bands: list[Id] = Field(default_factory=list, max_length=50)
    languages: list[Id] = Field(default_factory=list, max_length=20)
    completed: list[Id] = Field(default_factory=list, max_length=20)       # passed all of these
    not_completed: list[Id] = Field(default_factory=list, max_length=20)   # passed none of these


class BroadcastIn(Strict):
    text: Message
    courses: list[Id] = Field(default_factory=list, max_length=3)   # buttons that open these courses
    audience: Audience = Field(default_factory=Audience)
    send_at: Moment | None = None        # without a zone: local time of the commune
    urgent: StrictBool = False           # a scam alert: ignores quiet hours


class BroadcastPreview(BaseModel):
    recipients: int
    due_at: datetime


# Derived from the broadcast's outbox rows on every read (admin_api/routers/broadcasts.py):
# queued: no message tried yet; sending: some have an outcome (or are being tried), some are
# still to go; done: none left queued or sending (failed and blocked count as outcomes);
# cancelled: an official stopped the messages still queued, and it stays cancelled.
BroadcastState = Literal["queued", "sending", "done", "cancelled"]


class BroadcastCreated(BaseModel):
    id: int
    recipients: int
    due_at: datetime
    status: BroadcastState               # queued, or done when the audience is empty


class ChannelCounts(BaseModel):
    queued: int
    sending: int
    sent: int
    failed: int
    blocked: int
    cancelled: int


class BroadcastStatus(BaseModel):
    id: int
    status: BroadcastState
    text: str
    courses: list[str]
    audience: Audience
    urgent: bool
    due_at: datetime
    created_at: datetime
    created_by: str
    recipients: int
    # Its messages by status; together they make up recipients (less residents deleted since).
    queued: int                          # waiting, including those waiting for a retry
    sending: int                         # on their way to the messenger now
    sent: int
    failed: int
    blocked: int
    cancelled: int
    # The same counts for each channel its residents use ("telegram", "zalo", "web" ...); the web
    # chat cannot be messaged unasked, so its residents' messages fail at once.
    channels: dict[str, ChannelCounts] = {}



# --- events --------------------------------------------------------------------------------

class EventIn(Strict):
    title: Title
    description: Annotated[str, StringConstraints(max_length=2000), AfterValidator(_no_nul)] = ""
    starts_at: Moment                    # without a zone: local time of the commune
    location: Annotated[str, StringConstraints(max_length=200), AfterValidator(_no_nul)] = ""
    village_id: Id | None = None         # None: the whole commune


class EventPatch(Strict):
    title: Title | None = None
    description: Annotated[str, StringConstraints(max_length=2000), AfterValidator(_no_nul)] | None = None
    starts_at: Moment | None = None
    location: Annotated[str, StringConstraints(max_length=200), AfterValidator(_no_nul)] | None = None
    village_id: Id | None = None


class EventOut(BaseModel):
    id: int
    title: str
    description: str
    starts_at: datetime
    location: str
    village_id: str | None
    yearly: bool
    subscribers: int


# --- residents -----------------------------------------------------------------------------

class ResidentOut(BaseModel):
    id: int
    first_name: str | None
    village_id: str | None
    group_id: str | None
    age_band: str | None
    language: str
    active: bool
    certified: bool
    official: bool
    reminders: bool
    created_at: datetime
    last_seen_at: datetime
    completed: list[str]


class ResidentPatch(Strict):
    official: StrictBool   # a village official: gets the report-deadline reminders


class ResidentPage(BaseModel):
    total: int
    items: list[ResidentOut]


class CourseProgress(BaseModel):
    course_id: str
    step: int
    steps: int
    started_at: datetime
    completed_at: datetime | None
    best_percent: int | None


class ResidentDetail(ResidentOut):
    courses: list[CourseProgress]


# --- reports -------------------------------------------------------------------------------

class MeasureOut(BaseModel):
    count: int
    base: int | None
    percent: float | None = Field(description="count / base in percent, at most 100; null without a base")
    target_percent: int | None
    met: bool | None = Field(description="null when it cannot be said: no base, no target, or over_base")
    over_base: bool = Field(False, description="present, and true, when the count exceeds its base (the "
                                               "percent shows 100): check the base entered by officials, or the data")


# What the API schema says of some figures of a row; every figure is also named in the report's
# ``labels``, in the files' words.
FIGURE_DOCS = {
    "basic_skills_web": "of basic_skills.count, the web chat's residents",
    "certified": "adults on a messenger account (Telegram; Zalo later) who reported, with one tap to the "
                 "assistant, being certified on VNeID: self-reported, not checked against the commune "
                 "police's figures; counts toward the target",
    "certified_web": "adults who reported it on the web chat: anyone can open any number of web sessions, so it "
                     "is shown apart and never counted toward the target",
}


def _figure_type(name: str, hints: dict[str, Any]) -> Any:
    """The Row attribute's type, a Measure as MeasureOut; a number for a figure Row lacks."""
    hint = hints.get(name, int | None)
    if hint is Measure or Measure in get_args(hint):
        return MeasureOut | None
    return hint


def row_out_model(figures: Iterable[str]) -> type[BaseModel]:
    """A report row's schema, made from the report's figures (reports.as_json.json_figures), so
    that a figure added to the columns is in the schema too, not dropped from the response."""
    hints = get_type_hints(Row)
    fields: dict[str, Any] = {name: (_figure_type(name, hints), Field(description=FIGURE_DOCS.get(name)))
                              for name in figures}
    return create_model("RowOut", id=(str | None, ...), name=(str, ...), **fields)


RowOut = row_out_model(json_figures())


class IndicatorOut(BaseModel):
    id: str
    label: str
    measure: MeasureOut
    self_reported: bool = Field(False, description="the figure is what residents reported to the assistant "
                                                   "(VNeID certification), not checked against official figures")


class AmbassadorRankOut(BaseModel):
    rank: int
    first_name: str
    village: str
    helped: int
    completions: int
    people_in_sessions: int


class ReportOut(BaseModel):
    commune: str
    period_from: date
    period_to: date
    year: int
    generated_at: datetime
    village: str | None
    core_courses: list[str]
    indicators: list[IndicatorOut]
    villages: list[RowOut]
    groups: list[RowOut]
    total: RowOut
    ambassadors: list[AmbassadorRankOut]
    labels: dict[str, str] = Field(description="what each figure of a row is, in the words of the report files "
                                               "(knowledge/vi/report.yaml)")


# --- errors --------------------------------------------------------------------------------

class ErrorMessage(BaseModel):
    vi: str
    en: str


class ErrorDetail(BaseModel):
    status: int
    field: str | None
    message: ErrorMessage


class ValidationItem(BaseModel):
    loc: list[str | int]
    type: str
    msg: str


class ErrorOut(BaseModel):
    error: ErrorDetail
    detail: list[ValidationItem] | None = None


# --- ambassadors ---------------------------------------------------------------------------

class InviteIn(Strict):
    village_id: Id | None = None
    days: StrictInt = Field(default=30, ge=1, le=365)
    max_uses: StrictInt = Field(default=1, ge=1, le=100)


class InviteOut(BaseModel):
    code: str                      # shown once; only its hash is stored
    display_code: str              # the same code in two halves, to read out; sent as it is, it works too
    command: str                   # what to send the bot: /daisuso <code>
    link: str | None               # t.me/<bot>?start=ds_<code>, when the bot's name is known
    village_id: str | None
    expires_at: datetime
    max_uses: int


class AmbassadorOut(BaseModel):
    id: int
    first_name: str | None
    village_id: str | None
    since: datetime
    helped: int                    # neighbours who came through their links
    helped_completions: int        # courses those neighbours completed
    sessions: int                  # hands-on sessions logged
    people_in_sessions: int


class RankedOut(BaseModel):
    rank: int
    ambassador_id: int
    first_name: str | None
    village_id: str | None
    helped: int
    completions: int
    people_in_sessions: int


# --- content ---------------------------------------------------------------------------------

class UnansweredOut(BaseModel):
    """A question the bot could not answer (kind "unanswered"), or one whose answer residents
    said was not what they meant (kind "not_helpful"). For those, `answer` is the FAQ id or
    "course/step-id" it got, `down` and `up` its 👎 and 👍 for that question (`count` is the
    👎), and `last_day` the last day seen; votes are kept by day, so `first_seen` and
    `last_seen` are the start of those days in the commune."""

    model_config = ConfigDict(from_attributes=True)

    text: str
    count: int
    first_seen: datetime
    last_seen: datetime
    kind: Literal["unanswered", "not_helpful"] = "unanswered"
    answer: str | None = None
    down: int | None = None
    up: int | None = None
    last_day: date | None = None


# --- lessons to listen to ---------------------------------------------------------------------

class PartMediaOut(BaseModel):
    """A lesson part (`key`: <course>/<step id>, <course>/quiz/<question id>, faq/<entry id>) in one
    language: its recording ("upload" by an official, "file" in knowledge/, or null: the computer
    voice reads it) and its picture file, if a step has one."""

    model_config = ConfigDict(from_attributes=True)

    language: str
    key: str
    title: str
    recording: Literal["upload", "file"] | None
    picture: str | None


class RecordingOut(BaseModel):
    """An uploaded recording (its sound is not repeated here: residents hear it in the bot)."""

    model_config = ConfigDict(from_attributes=True)

    language: str
    key: str
    seconds: float
    sha256: str
    source: str
    uploaded_at: datetime
