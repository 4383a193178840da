"""The one note a workbook gets when its totals were saved without their results.

A program that writes .xlsx without calculating (openpyxl, pandas, many web systems' exports)
keeps the template's ``=SUM(…)`` totals but no results: the reader computes them
(``workbook.formulas``), so that no locked total is reported blank, and the checks compare the
computed totals. The file itself still shows blank (or 0, in WPS) totals to whoever opens it
without recalculating — a printout or a web page made from it would too. The unit is told so
once, as a soft finding, and what to do: open and save it in Excel or WPS.
"""

from __future__ import annotations

from workbook.formulas import addresses
from workbook.report import Report

from .findings import Finding, render

KIND = "unsaved_totals"


def unsaved_findings(rep: Report) -> list[Finding]:
    """At most one finding: at the first total saved without a result, naming how many there are."""
    rules = rep.edition.rules_of(KIND)
    if not rep.unsaved or not rules:
        return []
    rule = rules[0]
    where = addresses(rep, rep.unsaved)
    sheet, cell = where[0].rsplit("!", 1)
    per_sheet: dict[str, int] = {}
    for w in where:
        per_sheet[w.rsplit("!", 1)[0]] = per_sheet.get(w.rsplit("!", 1)[0], 0) + 1
    shown = "、".join(f"“{name}”{n} 个" for name, n in per_sheet.items())
    msg = render(rule.message, count=len(where), cells=shown)
    return [Finding(rule.id, rule.severity, sheet, cell, "", "", "（公式未保存计算结果）", "", msg,
                    cells=tuple(w.rsplit("!", 1)[1] for w in where if w.startswith(sheet + "!")))]


__all__ = ["KIND", "unsaved_findings"]
