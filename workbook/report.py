"""A report as data: what one workbook holds, independent of how it was read or will be written."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping

import numpy as np

from .spec import Edition, load_edition
from .values import Parsed, Status, parse_number

SOURCES = {"template": "模板填报", "published": "据公开发布的报告录入", "summary": "汇总"}
SCOPES = {"all": "全部单位（本级、各部门、各乡镇街道）", "self": "本级（仅县级人民政府本身）"}


@dataclass(frozen=True)
class Explanation:
    """A unit's written reason for keeping a soft finding (the template's 说明 sheet)."""

    rule: str
    cell: str
    text: str


@dataclass(frozen=True)
class Member:
    """A unit that a summary sums: enough to recognise it when it is given again."""

    name: str
    code: str
    sha256: str = ""


@dataclass
class Report:
    """One unit's (or one summary's) report.

    ``raw`` keeps every number cell exactly as found in the file (numbers, text, None), so that the
    checks can report what was written; ``parsed``/``numbers`` are the normalised view. ``unsaved``
    names the totals the file kept as the template's formula without a result (written by a
    program that does not calculate): their ``raw`` is what the formula computes
    (``settle_formulas``), never a blank.
    """

    edition_key: str
    cover: dict[str, str] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    notes: tuple[Explanation, ...] = ()
    source: str = "template"
    members: tuple[Member, ...] = ()
    scope: str = ""
    path: Path | None = None
    sha256: str = ""
    sheet_names: Mapping[str, str] = field(default_factory=dict)
    #: Cells an import could not place (not published, published as a picture, or unreadable):
    #: unknown — not 0, and not a blank the unit left. Kept in ``_meta`` so it survives the file.
    unknown: frozenset[str] = frozenset()
    #: How the published report wrote a number that was stored normalised (“1．2678万元”).
    published: Mapping[str, str] = field(default_factory=dict)
    unsaved: tuple[str, ...] = ()

    @property
    def edition(self) -> Edition:
        return load_edition(self.edition_key)

    @property
    def unit(self) -> str:
        return self.cover.get("unit_name", "")

    @property
    def year(self) -> int | None:
        text = self.cover.get("year", "")
        digits = "".join(ch for ch in text if ch.isdigit())
        return int(digits) if 4 <= len(digits) <= 4 else None

    @property
    def parsed(self) -> dict[str, Parsed]:
        ed = self.edition
        return {c.id: parse_number(self.raw.get(c.id), money=c.kind == "money") for c in ed.cells}

    @property
    def numbers(self) -> dict[str, float]:
        """Every cell as a number (blanks and placeholders as 0, unreadable text as NaN)."""
        return {k: p.value for k, p in self.parsed.items()}

    @property
    def statuses(self) -> dict[str, Status]:
        return {k: p.status for k, p in self.parsed.items()}

    def totals(self) -> dict[str, float]:
        """The derived cells recomputed from the inputs — never taken from the stored totals."""
        return derive_totals(self.edition, self.numbers)

    def with_totals(self) -> dict[str, float]:
        """Inputs as read, derived cells recomputed."""
        out = self.numbers
        out.update(self.totals())
        return out

    def known(self) -> dict[str, float]:
        """``with_totals()``, with NaN where a cell is unknown or a total sums an unknown cell:
        an unknown number is not 0, and neither is anything computed from it."""
        out = self.with_totals()
        if not self.unknown:
            return out
        from .derive import derivation_matrix, input_ids

        derived, matrix = derivation_matrix(self.edition_key)
        mask = np.array([cid in self.unknown for cid in input_ids(self.edition_key)], dtype=float)
        for cid, hit in zip(derived, (mask @ (matrix != 0)) > 0):
            if hit:
                out[cid] = np.nan
        for cid in self.unknown:
            if cid in out and self.edition.cell(cid).role == "input":
                out[cid] = np.nan
        return out


def derive_totals(edition: Edition, numbers: Mapping[str, float]) -> dict[str, float]:
    """Compute every derived cell from the input cells (blank or unreadable inputs count 0),
    through the spec's derivation (``workbook.derive``), never from stored totals."""
    from .derive import derivation_matrix, input_ids

    derived, matrix = derivation_matrix(edition.key)
    x = np.array([_num(numbers.get(cid)) for cid in input_ids(edition.key)], dtype=float)
    x[~np.isfinite(x)] = 0.0
    return dict(zip(derived, (x @ matrix).tolist()))


def spreadsheet_number(value: Any) -> float:
    """A cell as a spreadsheet's SUM counts it: a number as it is, anything else (text — even
    text that spells a number, “１２” —, a blank, TRUE) as 0."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value == value:
        return float(value)
    return 0.0


def settle_formulas(report: Report, cells: Iterable[str]) -> None:
    """Set the derived ``cells`` — each holding the template's ``SUM`` of its spec items, saved
    without a result — to what that formula computes, and record them in ``report.unsaved``.

    Computed as the spreadsheet will when the file is opened, so that the findings are the ones
    the same file gets once Excel, WPS or LibreOffice has saved it: each formula adds its items
    (``Cell.items``, the spec's derivation); an item that is itself such a total is computed the
    same way, any other item counts as the cell reads (text and blanks 0, as SUM counts them) —
    a total typed over by hand stays what it is, in the sums above it too."""
    items = derived_items(report.edition_key)
    todo = set(cells)
    done: dict[str, float] = {}
    raw = report.raw

    def value(cid: str) -> float:
        if cid not in todo:
            return spreadsheet_number(raw.get(cid))
        if cid not in done:
            done[cid] = float(sum(value(item) for item in items[cid]))
        return done[cid]

    for cid in todo:
        value(cid)
    raw.update(done)
    report.unsaved = tuple(cid for cid in items if cid in todo)


@cache
def derived_items(edition_key: str) -> Mapping[str, tuple[str, ...]]:
    """Each derived cell's items (the spec's derivation), in the spec's order."""
    return MappingProxyType({c.id: c.items for c in load_edition(edition_key).derived_cells})


def _num(value: Any) -> float:
    try:
        return float(value) if value is not None else 0.0
    except (TypeError, ValueError):
        return 0.0
