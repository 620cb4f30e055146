"""The shape of the files in knowledge/. Limits follow what fits a small phone screen."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, RootModel, StringConstraints, ValidationInfo,
                      field_validator, model_validator)

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
Audience = Literal["hoc_sinh", "cong_dan", "can_bo", "nguoi_lao_dong"]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]

STEP_MAX_CHARS = 700
ANSWER_MAX_CHARS = 600


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


ImageFile = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}\.(png|jpg|jpeg)$")]


class Step(Strict):
    id: Slug
    title: Annotated[Text, StringConstraints(max_length=60)]
    text: Annotated[Text, StringConstraints(max_length=STEP_MAX_CHARS)]
    sources: list[str] = []
    # A picture sent before the text: a file in knowledge/<lang>/images/, with its caption.
    image: ImageFile | None = None
    caption: Annotated[Text, StringConstraints(max_length=200)] | None = None

    @model_validator(mode="after")
    def _image_has_caption(self) -> "Step":
        if (self.image is None) != (self.caption is None):
            raise ValueError("image and caption go together: a picture needs its caption, a caption its picture")
        return self


class Question(Strict):
    id: Slug
    question: Annotated[Text, StringConstraints(max_length=300)]
    options: list[Annotated[Text, StringConstraints(max_length=80)]] = Field(min_length=2, max_length=4)
    answer: int = Field(ge=1, description="1-based number of the right option")
    explain: Annotated[Text, StringConstraints(max_length=300)]
    sources: list[str] = []

    @field_validator("answer")
    @classmethod
    def _answer_is_an_option(cls, answer: int, info: ValidationInfo) -> int:
        options = info.data.get("options")
        if options is not None and answer > len(options):
            raise ValueError(f"answer {answer} but only {len(options)} options")
        return answer


class Quiz(Strict):
    pass_percent: int = Field(default=80, ge=50, le=100)
    questions: list[Question] = Field(min_length=6)


class Course(Strict):
    id: Slug
    order: int
    title: Annotated[Text, StringConstraints(max_length=60)]
    button: Annotated[Text, StringConstraints(max_length=32)]
    audiences: list[Audience] = Field(min_length=1)
    updated: date
    sources: list[str] = []
    intro: Annotated[Text, StringConstraints(max_length=300)]
    steps: list[Step] = Field(min_length=6, max_length=12)
    quiz: Quiz

    def step_number(self, step_id: str) -> int | None:
        for i, step in enumerate(self.steps):
            if step.id == step_id:
                return i
        return None


class Choice(Strict):
    id: Slug
    label: Annotated[Text, StringConstraints(max_length=40)]


class Group(Choice):
    audience: Audience


class AgeBand(Choice):
    adult: bool


class Profile(Strict):
    groups: list[Group] = Field(min_length=1)
    age_bands: list[AgeBand] = Field(min_length=1)


class AssistantInfo(Strict):
    movement_name: Text
    commune_name: Text
    ambassador_name: Text
    in_person_helpers: list[Text] = Field(min_length=1)


class Village(Strict):
    id: Slug
    name: Annotated[Text, StringConstraints(max_length=40)]
    kind: Literal["thôn", "bản", "tiểu khu", "khu vực"]
    area: Text | None = None
    adult_population: int | None = Field(default=None, ge=0)
    households: int | None = Field(default=None, ge=0)


class Villages(Strict):
    villages: list[Village] = Field(min_length=1)


class Indicator(Strict):
    id: Slug
    label: Text
    measure: Literal["core_courses", "certified"]
    who: Literal["adults", "can_bo", "hoc_sinh", "nguoi_lao_dong", "cong_dan"]
    base: Literal["adult_population", "registered"]


class Plan(Strict):
    """knowledge/targets.yaml: the plan's indicators and the percent to reach each year."""

    core_courses: list[Slug] = Field(min_length=1)
    indicators: list[Indicator] = Field(min_length=1)
    targets: dict[Annotated[int, Field(ge=2020, le=2100)],
                  dict[Slug, Annotated[int, Field(ge=0, le=100)]]]

    @model_validator(mode="after")
    def _targets_name_indicators(self) -> "Plan":
        ids = [i.id for i in self.indicators]
        if len(set(ids)) != len(ids):
            raise ValueError("duplicate indicator id")
        for year, percents in self.targets.items():
            unknown = sorted(set(percents) - set(ids))
            if unknown:
                raise ValueError(f"targets {year}: unknown indicator(s) {', '.join(unknown)}")
        return self


class YearlyEvent(Strict):
    key: Slug
    title: Annotated[Text, StringConstraints(max_length=200)]
    month: int = Field(ge=1, le=12)
    day: int = Field(ge=1, le=31)
    time: Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    description: Annotated[str, StringConstraints(max_length=2000)] = ""


class ReportLabels(Strict):
    labels: dict[Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,64}$")], str]


class Events(Strict):
    yearly: list[YearlyEvent] = Field(default_factory=list)


FaqId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]


class FaqEntry(Strict):
    id: FaqId
    question: Annotated[Text, StringConstraints(max_length=200)]
    phrasings: list[Annotated[Text, StringConstraints(max_length=200)]] = Field(min_length=3)
    answer: Annotated[Text, StringConstraints(max_length=ANSWER_MAX_CHARS)]
    see: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_-]+/[a-z0-9_-]+$")]
    sources: list[str] = []

    @property
    def course_id(self) -> str:
        return self.see.split("/", 1)[0]

    @property
    def step_id(self) -> str:
        return self.see.split("/", 1)[1]


class FaqFile(Strict):
    entries: list[FaqEntry] = Field(min_length=1)


class GlossaryTerm(Strict):
    term: Text
    pattern: Text = Field(description="regular expression that finds the term (case-sensitive)")
    explain: Annotated[Text, StringConstraints(max_length=200)]


class Glossary(Strict):
    terms: list[GlossaryTerm] = []


class SpellingRule(Strict):
    canonical: Text
    pattern: Text = Field(description="case-insensitive regex; every match must equal canonical")


class Spelling(Strict):
    terms: list[SpellingRule] = []


class Shorthand(RootModel[dict[Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+$")], Text]]):
    """Shorthand and teencode, folded (no diacritics): 'ko' → 'khong'."""


class Stopwords(Strict):
    words: list[Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+$")]]
    # Politeness and closings ("ạ", "nhé", "ad ơi"): noise wherever they stand, in any accent.
    particles: list[Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+$")]] = []
    # Words that close a question ("... với", "... vậy") but mean something elsewhere ("vay tiền").
    closings: list[Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+$")]] = []
    # Words a resident may put before a share code ("code: ABC-123"), skipped when reading it.
    code_words: list[Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+$")]] = []


class SmalltalkKind(Strict):
    id: Slug
    words: list[Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+$")]] = Field(min_length=1)
    reply: Annotated[Text, StringConstraints(max_length=300)]


class Smalltalk(Strict):
    kinds: list[SmalltalkKind] = []


def _has_a_word(cue: str) -> str:
    if not any(ch.isalnum() for ch in cue):
        raise ValueError("a cue must contain at least one word")
    return cue


Cue = Annotated[Text, StringConstraints(max_length=40), AfterValidator(_has_a_word)]


class Privacy(Strict):
    """privacy.yaml: what is cut from a question before it goes into the unanswered log."""

    name_cues: list[Cue] = []       # a person's or a place's name follows: it goes, whatever it is
    secret_cues: list[Cue] = []     # a password, number or address follows: it goes unless a known word
    value_words: list[Cue] = []     # "là": what follows is the value itself
    name_ends: list[Cue] = []       # never part of a name: a name stops before them


class LanguageName(Strict):
    code: Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$")]
    name: Annotated[Text, StringConstraints(max_length=40)]


class Languages(Strict):
    languages: list[LanguageName] = Field(min_length=1)


class Sources(Strict):
    sources: dict[str, Text]


@dataclass
class LanguagePack:
    """Everything a resident sees in one language."""

    code: str
    courses: dict[str, Course]
    profile: Profile
    assistant: AssistantInfo
    faq: list[FaqEntry] = field(default_factory=list)
    glossary: Glossary = field(default_factory=Glossary)
    shorthand: dict[str, str] = field(default_factory=dict)
    stopwords: frozenset[str] = frozenset()
    particles: frozenset[str] = frozenset()
    closings: frozenset[str] = frozenset()
    code_words: frozenset[str] = frozenset()   # stopwords.yaml: before a share code (bot/share_codes.py)
    smalltalk: Smalltalk = field(default_factory=Smalltalk)
    privacy: Privacy = field(default_factory=Privacy)   # privacy.yaml: cut from the unanswered log
    report_labels: dict[str, str] = field(default_factory=dict)   # report.yaml: the periodic report's wording
    # (course id, step index) → glossary lines shown under that step: where a term first appears.
    notes: dict[tuple[str, int], list[str]] = field(default_factory=dict)

    @property
    def ordered_courses(self) -> list[Course]:
        return sorted(self.courses.values(), key=lambda c: (c.order, c.id))


@dataclass
class Knowledge:
    villages: list[Village]
    plan: Plan | None = None
    events: Events | None = None
    languages: dict[str, LanguagePack] = field(default_factory=dict)
    default_language: str = "vi"
    sources: dict[str, str] = field(default_factory=dict)
    language_names: list[LanguageName] = field(default_factory=list)
    root: Path | None = None    # the knowledge/ folder: recordings and pictures are files under it
    # Languages heard but not read: folders with recordings only (knowledge/<lang>/audio/).
    audio_languages: list[str] = field(default_factory=list)

    def pack(self, language: str | None) -> LanguagePack:
        return self.languages.get(language or "", self.languages[self.default_language])

    def village(self, village_id: str | None) -> Village | None:
        return next((v for v in self.villages if v.id == village_id), None)
