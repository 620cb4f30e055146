"""The report's figures restated as sentences: the Word document's general assessment unless
the official wrote their own (reports.notes), and the start offered to them.

No words live here: every sentence is a label of knowledge/vi/report.yaml. The sentences only
restate figures of the report, and say whose figures they are: residents who use the assistant,
not the whole commune. A count of nought has a sentence of its own (the labels ending in
_zero: "nobody yet..."), never "there are 0 people".
"""
from __future__ import annotations

from datetime import tzinfo
from typing import Any

from admin_api.reports.model import Indicator, Report, Row
from admin_api.reports.wording import Labels, context, label, number, percent


def narrative(report: Report, labels: Labels | None, tz: tzinfo | None = None) -> list[str]:
    """Paragraphs restating the report's figures: usage, indicators met or not, the self-reported
    VNeID certifications, the web chat's figures, digital families, the best digital ambassador."""
    values = context(report, labels, tz)
    total = report.total
    paragraphs = [_usage(total, report, labels, values), _indicators(report, labels, values),
                  _self_reported(report, labels, values), _web_figures(total, labels, values),
                  _families(total, labels, values), _best_ambassador(report, labels, values)]
    return [p for p in paragraphs if p]


def zero_or(key: str, count: int | None) -> str:
    """``key``, or its ``_zero`` sentence when there is nothing to count."""
    return f"{key}_zero" if not count else key


def _usage(total: Row | None, report: Report, labels: Labels | None, values: dict[str, Any]) -> str:
    if total is None:
        return ""
    if not total.registered:         # then nothing else happened either: one sentence says it
        return label(labels, "narrative_usage_zero", **values)
    usage = "narrative_usage" if total.new_in_period else "narrative_usage_no_new"
    courses = {(True, True): "narrative_courses", (True, False): "narrative_courses_none_completed",
               (False, True): "narrative_courses_none_started", (False, False): "narrative_courses_zero"}
    return " ".join([
        label(labels, usage, **values, registered=number(total.registered, labels),
              new_in_period=number(total.new_in_period, labels)),
        label(labels, courses[bool(total.courses_started), bool(total.courses_completed)], **values,
              courses_started=number(total.courses_started, labels),
              courses_completed=number(total.courses_completed, labels)),
        label(labels, zero_or("narrative_core", total.core_completed), **values,
              core_completed=number(total.core_completed, labels), core_count=len(report.core_courses)),
    ])


def _indicators(report: Report, labels: Labels | None, values: dict[str, Any]) -> str:
    """The indicators sorted into met, not met, no target, no percent, and above their base. A
    self-reported figure is never said to meet a target (_self_reported), only to need checking."""
    sorted_items: dict[str, list[str]] = {key: [] for key in (
        "narrative_met", "narrative_not_met", "narrative_no_target", "narrative_no_percent", "narrative_over_base")}
    for indicator in report.indicators:
        m = indicator.measure
        figures = {"label": indicator.label, "count": number(m.count, labels), "base": number(m.base, labels),
                   "percent": percent(m.percent, labels), "target": m.target_percent}
        if m.over_base:
            sorted_items["narrative_over_base"].append(label(labels, "item_over_base", **figures))
        elif indicator.self_reported:
            continue
        elif m.percent is None:
            sorted_items["narrative_no_percent"].append(label(labels, zero_or("item_count", m.count), **figures))
        elif m.target_percent is None:
            sorted_items["narrative_no_target"].append(label(labels, "item_percent", **figures))
        else:
            key = "narrative_met" if m.met else "narrative_not_met"
            sorted_items[key].append(label(labels, "item_with_target", **figures))
    return " ".join(label(labels, key, **values, items="; ".join(items))
                    for key, items in sorted_items.items() if items)


def _self_reported(report: Report, labels: Labels | None, values: dict[str, Any]) -> str:
    """What residents told the assistant of their VNeID certification, said as that: a count they
    reported, not the commune's certified figure, which only the commune police has."""
    return " ".join(_self_reported_sentence(i, labels, values) for i in report.indicators if i.self_reported)


def _self_reported_sentence(indicator: Indicator, labels: Labels | None, values: dict[str, Any]) -> str:
    m = indicator.measure
    key = "narrative_self_reported_zero" if not m.count else "narrative_self_reported" \
        if m.percent is not None and not m.over_base else "narrative_self_reported_no_percent"
    return label(labels, key, **values, count=number(m.count, labels), percent=percent(m.percent, labels))


def _web_figures(total: Row | None, labels: Labels | None, values: dict[str, Any]) -> str:
    """What came from the web chat: its learners count, its self-reported certifications do not."""
    if total is None or not (total.basic_skills_web or total.certified_web):
        return ""
    key = "narrative_web" if total.basic_skills_web and total.certified_web else \
        "narrative_web_basic_skills" if total.basic_skills_web else "narrative_web_certified"
    return label(labels, key, **values, basic_skills_web=number(total.basic_skills_web or 0, labels),
                 certified_web=number(total.certified_web or 0, labels))


def _families(total: Row | None, labels: Labels | None, values: dict[str, Any]) -> str:
    families = total.digital_families if total is not None else None
    if families is None:
        return ""
    figures = {"digital_families": number(families.count, labels), "households": number(families.base, labels),
               "percent": percent(families.percent, labels)}   # capped at 100; notes.difficulties flags it
    key = "narrative_digital_families_zero" if not families.count else "narrative_digital_families" \
        if families.percent is not None else "narrative_digital_families_no_households"
    return label(labels, key, **values, **figures)


def _best_ambassador(report: Report, labels: Labels | None, values: dict[str, Any]) -> str:
    if not report.ambassadors:
        return ""
    best = report.ambassadors[0]
    figures = {"helped": number(best.helped, labels), "completions": number(best.completions, labels),
               "people_in_sessions": number(best.people_in_sessions, labels)}
    # Ranked for any of the three figures: say only those that are not nought.
    deeds = ("deeds_helped_and_sessions" if best.helped and best.people_in_sessions else
             "deeds_helped" if best.helped else "deeds_sessions" if best.people_in_sessions else "deeds_completions")
    return label(labels, "narrative_best_ambassador" if best.village else "narrative_best_ambassador_no_village",
                 **values, first_name=best.first_name or label(labels, "ambassador_unnamed"),
                 village=best.village, deeds=label(labels, deeds, **figures))

