"""Row labels a text layout broke apart, joined again (text and borderless tables: no grid).

Copying a table out of a PDF viewer, or ``pdftotext -layout``, breaks what a narrow label column
wraps: “（二）部分公开（区分处理的，只计这一情形，不” on one line and “计其他情形）” on the next, the
numbers on the first line, on the last, or on a line of their own; a vertical label
(“三、本年度办理结果”) comes out one character a line. Lines are joined only when the joined
label is one the spec prints and the fragment alone is not — never by position — so a row the
spec does not know stays as it was and is reported where it stands.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

from .labels import LabelIndex, Target
from .model import TCell, TRow
from .normalise import is_blank, is_value

Known = Callable[[str], list[Target]]
MAX_JOIN = 12  # lines one label may be spread over (a vertical label: one character a line)


def _glue(a: str, b: str) -> str:
    return a.rstrip() + b.lstrip()


def _lone_label(row: TRow) -> str | None:
    """The text of a row that holds one label cell and nothing else."""
    filled = [c.text for c in row.cells if not is_blank(c.text)]
    return filled[0] if len(filled) == 1 and not is_value(filled[0]) else None


def _split(row: TRow) -> tuple[list[TCell], list[TCell]]:
    """Leading label cells and the cells from the first value on."""
    cells = [c for c in row.cells if not is_blank(c.text)]
    k = next((i for i, c in enumerate(cells) if is_value(c.text)), len(cells))
    return cells[:k], cells[k:]


def join_wrapped(rows: list[TRow], index: LabelIndex) -> list[TRow]:
    """The rows with every wrapped label joined (see the module docstring)."""
    def known(text: str) -> list[Target]:
        return index.lookup(text)[0]

    out: list[TRow] = []
    i = 0
    while i < len(rows):
        row = rows[i]
        label = _lone_label(row)
        if label is not None and not known(label):
            joined = _join_above(rows, i, label, known)
            if joined is None:
                out.append(row)
                i += 1
                continue
            row, i = joined
            label = _lone_label(row)
        else:
            i += 1
            row, i = _join_below(row, rows, i, known)
        if label is not None and i < len(rows) and any(t.role == "row" for t in known(label)):
            labels, values = _split(rows[i])
            if not labels and values:  # a leaf label alone on its line, its numbers on the next
                row = TRow((*row.cells, *values), row.where)
                i += 1
        out.append(row)
    return out


def _join_above(rows: list[TRow], i: int, label: str, known: Known) -> tuple[TRow, int] | None:
    """A label fragment at row ``i`` and the lines after it, up to the first join the spec knows
    (with the numbers of the line that completes it); None when no join is a label."""
    row = rows[i]
    text, j = label, i + 1
    while j < len(rows) and j - i <= MAX_JOIN:
        more = _lone_label(rows[j])
        if more is not None:
            text, j = _glue(text, more), j + 1
            if known(text):
                return TRow((TCell(text, row.where),), row.where), j
            continue
        labels, values = _split(rows[j])
        if len(labels) <= 1 and values:
            whole = _glue(text, labels[0].text) if labels else text
            if known(whole):
                return TRow((TCell(whole, row.where), *values), row.where), j + 1
        return None
    return None


def _join_below(row: TRow, rows: list[TRow], i: int, known: Known) -> tuple[TRow, int]:
    """A row whose label is cut short, with its numbers, followed by the rest of the label on
    the next lines (a label wrapped in a narrow column, the numbers on its first line)."""
    labels, values = _split(row)
    if len(labels) != 1 or not values or known(labels[0].text):
        return row, i
    text, j = labels[0].text, i
    while j < len(rows) and j - i < MAX_JOIN:
        more = _lone_label(rows[j])
        if more is None:
            break
        text, j = _glue(text, more), j + 1
        if known(text):
            return TRow((replace(labels[0], text=text), *values), row.where), j
    return row, i


__all__ = ["MAX_JOIN", "join_wrapped"]
