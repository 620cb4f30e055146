"""The report as the admin API's JSON (admin_api.schemas.ReportOut).

A row's figures are those of the report's columns (reports.columns), under the figure's name and
labelled with the files' own words, so a figure added to the columns is in the JSON too.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from admin_api.reports.columns import GROUP_COLUMNS, VILLAGE_COLUMNS, Column, row_figures
from admin_api.reports.model import Measure, Report, Row
from admin_api.reports.wording import Labels, label


def json_figures() -> dict[str, Column]:
    """The figures of a JSON row. Read at each call: the column lists are the only place to add one."""
    return row_figures(VILLAGE_COLUMNS, GROUP_COLUMNS)


def measure_json(measure: Measure | None) -> dict[str, Any] | None:
    if measure is None:
        return None
    out = {"count": measure.count, "base": measure.base, "percent": measure.percent,
           "target_percent": measure.target_percent, "met": measure.met}
    if measure.over_base:            # only then: a figure that is fine keeps the shape it always had
        out["over_base"] = True
    return out


def row_json(row: Row, figures: dict[str, Column]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": row.id, "name": row.name}
    for name in figures:
        value = getattr(row, name)
        out[name] = measure_json(value) if isinstance(value, Measure) else value
    return out


def report_json(report: Report, labels: Labels | None) -> dict[str, Any]:
    figures = json_figures()
    return {"commune": report.commune, "period_from": report.period_from, "period_to": report.period_to,
            "year": report.year, "generated_at": report.generated_at, "village": report.village_filter,
            "core_courses": report.core_courses,
            "indicators": [{"id": i.id, "label": i.label, "measure": measure_json(i.measure),
                            "self_reported": i.self_reported} for i in report.indicators],
            "villages": [row_json(r, figures) for r in report.villages],
            "groups": [row_json(r, figures) for r in report.groups],
            "total": row_json(report.total, figures),
            "ambassadors": [dataclasses.asdict(a) for a in report.ambassadors],
            "labels": {name: label(labels, column.figure_header) for name, column in figures.items()}}
