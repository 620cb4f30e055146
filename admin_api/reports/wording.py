"""The report's words and figures as text, shared by the JSON, XLSX and DOCX renderings.

No words live here: every text comes from ``labels`` (the ``labels`` mapping of
knowledge/vi/report.yaml). A missing label shows its key, a template with a broken placeholder
shows as written: a report is never refused for its wording.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, tzinfo
from typing import Any

from admin_api.reports.model import Measure, Report

Labels = Mapping[str, Any]


class _KeepMissing(dict):
    """format_map values: an unknown {placeholder} stays as written instead of raising."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def label(labels: Labels | None, key: str, default: str | None = None, **values: Any) -> str:
    """The label ``key`` with its {placeholders} filled in.

    Missing (or not a plain value): ``default`` when given, else the key itself. A template that
    does not format (a stray brace, a format spec that does not fit) is returned unformatted.
    """
    template = labels.get(key) if labels else None
    if template is None or isinstance(template, (bool, dict, list)):
        template = key if default is None else default
    template = str(template)
    if not values:
        return template
    try:
        return template.format_map(_KeepMissing(values))
    except (ValueError, IndexError, KeyError, AttributeError, TypeError):
        return template


def day(value: date) -> str:
    """dd/mm/yyyy, as officials write dates."""
    return value.strftime("%d/%m/%Y")


def moment(value: datetime, tz: tzinfo | None = None) -> str:
    """dd/mm/yyyy hh:mm, in ``tz`` when given; an aware time left in its own zone says which."""
    if tz is not None and value.tzinfo is not None:
        value = value.astimezone(tz)
    text = value.strftime("%d/%m/%Y %H:%M")
    offset = value.strftime("%z")
    if tz is None and offset:
        text += f" (UTC{offset[:3]}:{offset[3:5]})"
    return text


def context(report: Report, labels: Labels | None, tz: tzinfo | None = None) -> dict[str, Any]:
    """The placeholders every template may use."""
    values: dict[str, Any] = {
        "commune": report.commune,
        "commune_upper": report.commune.upper(),
        "period_from": day(report.period_from),
        "period_to": day(report.period_to),
        "generated_at": moment(report.generated_at, tz),
        "year": report.year,
    }
    values["period"] = label(labels, "period", **values)
    return values


def scope(report: Report, labels: Labels | None) -> str:
    """"Only this village" when the report is for one village, else empty."""
    if not report.village_filter:
        return ""
    name = next((r.name for r in report.villages if r.id == report.village_filter), report.village_filter)
    return label(labels, "scope_village", village=name)


def met_label(measure: Measure | None, labels: Labels | None) -> str:
    """Met / not met / cannot say; empty without a measure."""
    if measure is None:
        return ""
    met = measure.met
    return label(labels, "met_unknown" if met is None else "met_yes" if met else "met_no")


def number(value: int | None, labels: Labels | None) -> str:
    """1.250 with the label's thousands separator; empty when unknown."""
    if value is None:
        return ""
    return f"{value:,}".replace(",", label(labels, "thousands_separator", default="."))


def percent(value: float | None, labels: Labels | None) -> str:
    """45,5 with the label's decimal separator; empty when unknown."""
    if value is None:
        return ""
    return f"{value:.1f}".replace(".", label(labels, "decimal_separator", default=","))


def names(items: list[str]) -> str:
    """Names listed in a sentence: "A, B"."""
    return ", ".join(items)


def over_base_note(measure: Measure, labels: Labels | None) -> str:
    """What a share above 100% shows instead: "100% (vượt số liệu dân số: 250/100)", worded
    after what the base counts, so the official knows which figure to check."""
    return label(labels, f"percent_over_{measure.basis}", count=number(measure.count, labels),
                 base=number(measure.base, labels))
