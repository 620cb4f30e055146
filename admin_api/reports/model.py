"""The periodic report as plain data: built by reports.progress, rendered as JSON, XLSX, DOCX."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass
class Measure:
    """A count against a target: percent = count / base, when the base is known.

    A count above its base cannot be right (250 certified adults in a village entered as 100
    adults): either the base entered by officials or the data is wrong. The share then shows
    100%, never 250%, and over_base asks the official to check; whether the target is met cannot
    be said until then.
    """

    count: int
    base: int | None = None          # None: the base (e.g. a village's adult population) is not entered
    target_percent: int | None = None
    basis: str = "adults"            # what the base counts: adults | households | registered

    @property
    def over_base(self) -> bool:
        return bool(self.base) and self.count > self.base

    @property
    def percent(self) -> float | None:
        if not self.base:
            return None
        return 100.0 if self.over_base else round(100 * self.count / self.base, 1)

    @property
    def met(self) -> bool | None:
        if self.percent is None or self.target_percent is None or self.over_base:
            return None
        return self.percent >= self.target_percent


@dataclass
class Row:
    """One village, one group, or the whole commune."""

    id: str | None                   # village or group id; None for the commune total
    name: str
    registered: int = 0              # residents using the assistant at the end of the period
    new_in_period: int = 0           # ... of whom joined during the period
    courses_started: int = 0         # course starts during the period
    courses_completed: int = 0       # quizzes passed during the period
    core_completed: int = 0          # residents who have finished every core course (cumulative)
    adult_population: int | None = None   # entered by officials (villages only)
    households: int | None = None
    basic_skills: Measure | None = None   # adults with the core courses, against the adult population
    basic_skills_web: int | None = None   # ... of whom web-chat residents (counted: they passed the quizzes)
    # Adults on a messenger account (Telegram; Zalo later) who said they are certified, against the
    # adult population. Web-chat residents are apart: anyone can open any number of web sessions,
    # so their one-tap self-report is shown but never counted toward the target.
    certified: Measure | None = None
    certified_web: int | None = None      # adults who said so on the web chat: not toward the target
    group_target: Measure | None = None   # groups with their own target: core completed / registered
    digital_families: Measure | None = None  # households with a member who finished the core courses


@dataclass
class Indicator:
    """A line of the plan's targets with the commune's figure for it."""

    id: str
    label: str
    measure: Measure
    # What residents reported to the assistant (the VNeID certification, one tap), not a figure
    # checked against the commune police's: never written as the commune's result.
    self_reported: bool = False


@dataclass
class AmbassadorRow:
    """Thi đua: an ambassador's figures for the period, best first."""

    rank: int
    first_name: str
    village: str
    helped: int              # neighbours who came through their links
    completions: int         # courses those neighbours completed
    people_in_sessions: int  # people helped in hands-on sessions they logged


@dataclass
class Report:
    commune: str
    period_from: date
    period_to: date                 # inclusive, as officials write it
    year: int                       # the targets' year
    generated_at: datetime
    village_filter: str | None
    core_courses: list[str]
    indicators: list[Indicator] = field(default_factory=list)
    villages: list[Row] = field(default_factory=list)
    groups: list[Row] = field(default_factory=list)
    total: Row | None = None
    ambassadors: list[AmbassadorRow] = field(default_factory=list)
