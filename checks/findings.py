"""Findings as data: what is wrong, where, how badly, and what the unit said about it.

A finding names a rule, a severity, a sheet and cell as Excel shows them, the printed row and
column labels, the value found and the value expected, and a message a clerk understands. The
command line, the JSON output, the add-in's marks and the consolidation all consume these.
"""

from __future__ import annotations

import string
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable

SEVERITY_LABEL = {"hard": "错误", "soft": "提示"}
# what each severity asks of the unit (the rule documentation prints “错误（必须改正）”)
SEVERITY_ACTION = {"hard": "必须改正", "soft": "核实或说明"}


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str
    sheet: str
    cell: str
    row: str
    column: str
    found: str
    expected: str
    message: str
    explanation: str = ""
    cells: tuple[str, ...] = ()

    @property
    def location(self) -> str:
        """``sheet!A1`` as Excel writes a reference (empty when the finding has no cell)."""
        return f"{self.sheet}!{self.cell}" if self.sheet and self.cell else self.sheet

    @property
    def explained(self) -> bool:
        return bool(self.explanation)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("cells")  # the JSON keeps to the documented keys; ``location``/``cells`` are for marks
        return d


@dataclass
class FileResult:
    """Everything known about one input file: its findings, or why it could not be read."""

    path: str
    unit: str = ""
    year: int | None = None
    edition: str = ""
    findings: list[Finding] = field(default_factory=list)
    error: str = ""
    error_code: str = ""
    #: table cells an import could not place (``Report.unknown``): such a report is never clean
    unknown: int = 0

    @property
    def hard(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "hard"]

    @property
    def soft(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "soft"]

    @property
    def ok(self) -> bool:
        """Clean: readable, no error, and every table cell known (an unknown cell may hide one)."""
        return not self.error and not self.hard and not self.unknown

    def verdict(self) -> str:
        """A one-line Chinese verdict, as the clerk's message box and the terminal show it."""
        if self.error:
            return f"无法读取：{self.error}"
        open_soft = [f for f in self.soft if not f.explained]
        if not self.hard and not open_soft and not self.unknown:
            return "校验通过" + (f"（{len(self.soft)} 处提示已说明）" if self.soft else "")
        parts = []
        if self.unknown:
            parts.append(f"{self.unknown} 个单元格未能录入（不按 0 计，相关规则未能核查）")
        if self.hard:
            parts.append(f"{len(self.hard)} 处错误")
        if self.soft:
            explained = len(self.soft) - len(open_soft)
            parts.append(f"{len(self.soft)} 处提示" + (f"（{explained} 处已说明）" if explained else ""))
        return ("发现 " if self.hard or self.soft else "") + "、".join(parts)

    def to_json(self) -> dict[str, Any]:
        """The keys the JSON output promises; ``error`` (the reason in Chinese) only for a file
        that could not be read, ``unknown_cells`` only for a report with cells not imported."""
        out: dict[str, Any] = {"path": self.path, "unit": self.unit, "year": self.year, "edition": self.edition,
                               "findings": [f.to_json() for f in self.findings]}
        if self.unknown:  # an imported report with cells that could not be placed (never clean)
            out["unknown_cells"] = self.unknown
        if self.error:
            out["error"] = self.error
        return out


class _Safe(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


class _Keep(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def render(template: str, **fields: Any) -> str:
    """Fill a rule's message template; a placeholder without a value stays empty, never raises."""
    return string.Formatter().vformat(template, (), _Safe(fields))


def render_known(template: str, fields: dict[str, Any]) -> str:
    """Fill the placeholders ``fields`` has and keep the others as written (“{found}”): a message
    template as documentation shows it, with the labels that never vary filled in."""
    return string.Formatter().vformat(template, (), _Keep(fields))


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Hard first, then by sheet order of appearance and rule id."""
    return sorted(findings, key=lambda f: (f.severity != "hard", f.rule, f.sheet, _cell_key(f.cell)))


def _cell_key(cell: str) -> tuple[int, str]:
    digits = "".join(ch for ch in cell.split(":")[0] if ch.isdigit())
    letters = "".join(ch for ch in cell.split(":")[0] if ch.isalpha())
    return (int(digits) if digits else 0, letters.rjust(3))


def attach_explanations(findings: list[Finding], notes: Iterable[Any]) -> list[Finding]:
    """Mark soft findings that the unit explained on its 说明 sheet (by rule, and cell if given)."""
    notes = list(notes)
    out = []
    for f in findings:
        text = ""
        if f.severity == "soft":
            # a note names the cell as the finding does (“E29”, “三、依申请公开!E29”, a range) or any
            # one cell of a grouped finding; a note without a cell covers the rule everywhere
            own = {f.cell.upper(), *(c.upper() for c in f.cells)}
            for n in notes:
                cell = n.cell.replace("$", "").replace("'", "").replace(" ", "").upper()
                if n.rule.strip().upper() == f.rule.upper() and (not cell or cell == f.location.upper()
                                                                  or cell.split("!")[-1] in own):
                    text = n.text
                    break
        out.append(replace(f, explanation=text) if text else f)
    return out


def file_error(path: Path | str, reason: str, code: str = "unreadable") -> FileResult:
    return FileResult(path=str(path), error=reason, error_code=code)
