"""Draft the data paragraph of 一、总体情况 from the tables, so the narrative cannot contradict them.

Real reports often quote numbers in 一、总体情况 that differ from their own tables (R3.7). The
paragraph made here quotes only numbers taken from the tables (totals recomputed from the inputs),
in the wording the R3.7 check reads, and it is recognisable again: it starts with the year and
“…共收到政府信息公开申请”, so a second run replaces it instead of adding another. The clerk's own
narrative around it is kept verbatim.

Writing it back changes exactly one cell of the workbook — the 一、总体情况 text cell on the cover —
by editing that cell in the sheet's XML: everything else (the protection and its password, the
formulas and their cached results, a county summary's detail sheets and charts, the 校验结果 sheet,
the clerk's formatting) stays byte for byte as it was. Rebuilding the workbook with the template
builder would have reset the password to the default and dropped any sheet the builder does not
make. The result is read back and compared before it replaces anything.
"""

from __future__ import annotations

import dataclasses
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from lxml import etree

from checks import validate_report
from checks.findings import Finding
from workbook.atomic import atomic_path
from workbook.layout import a1, layout_for
from workbook.read import read_report
from workbook.report import Report
from workbook.spec import cell_id
from workbook.values import format_number

from addin.publish.safety import xml_text

TEXT_KEY = "overview"
MAX_CELL_CHARS = 32767
#: How the data paragraph is found again: the year (or 本年度), a short subject, then the phrase.
DATA_PARAGRAPH = re.compile(r"^\s*(?:\d{4}\s*年度?|本年度?)，[^，。；;,\n]{0,20}?共收到政府信息公开申请")
_ENUM = re.compile(r"^（[一二三四五六七八九十]+）")
_NOTE = re.compile(r"（[^（）]*）$")
_REGION = re.compile(r"(县|区|市|旗)(?:人民政府)?$")
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML_NS = "http://www.w3.org/XML/1998/namespace"


def _subject(report: Report) -> str:
    """Who received the requests: “本机关”; for a summary “全县/全区/全市” when the name says so."""
    if report.source == "summary":
        m = _REGION.search(report.unit)
        return f"全{m.group(1)}" if m else "汇总范围内各单位"
    return "本机关"


def draft_text(report: Report) -> str:
    """The data paragraph of 一、总体情况 (one paragraph, no line breaks) from the tables.

    Outcome groups and their names come from the spec's row labels (“（三）不予公开” → 不予公开),
    so the 2019 edition's single “其他处理” row and the 2021 edition's three are both summed.
    """
    ed = report.edition
    n = report.with_totals()
    block = ed.table("part3").blocks[0]
    p3 = lambda row: n[cell_id("part3", block.key, row, "total")]  # noqa: E731
    # the numbers R3.7 compares with the text, summed over the same cells the rule names
    quotes = {q["key"]: q["cells"] for q in ed.rules_of("text_numbers")[0].get("quotes")}
    quoted = lambda key: sum(n[cell_id(*c)] for c in quotes[key])  # noqa: E731
    result_head = block.row("total").path[0]
    groups: dict[str, float] = {}
    for row in block.rows:
        if row.key == "total" or len(row.path) < 2 or row.path[0] != result_head:
            continue
        name = _NOTE.sub("", _ENUM.sub("", row.path[1]))
        groups[name] = groups.get(name, 0.0) + p3(row.key)
    num = format_number
    year = report.year
    lead = f"{year}年" if year else "本年度"
    outcomes = "、".join(f"{name}{num(v)}件" for name, v in groups.items())
    return (f"{lead}，{_subject(report)}共收到政府信息公开申请{num(quoted('received'))}件，上年结转{num(p3('carried'))}件；"
            f"办结{num(quoted('handled'))}件，其中{outcomes}；结转下年度继续办理{num(p3('carry_next'))}件。"
            f"全年因政府信息公开引起行政复议{num(quoted('review'))}件、"
            f"行政诉讼{num(quoted('litigation'))}件。")


@dataclass(frozen=True)
class Merged:
    """The new text of 一、总体情况, the paragraph put in, and the old data paragraph it replaced
    (None when it was appended)."""

    text: str
    paragraph: str
    replaced: str | None

    @property
    def changed(self) -> bool:
        return self.replaced is None or self.replaced.strip() != self.paragraph.strip()


def merge_overview(existing: str, paragraph: str) -> Merged:
    """Put ``paragraph`` into the clerk's text: in place of the first data paragraph found, else
    as a new last paragraph. Every other line is kept as it was."""
    lines = existing.replace("\r\n", "\n").split("\n") if existing.strip() else []
    for i, line in enumerate(lines):
        if DATA_PARAGRAPH.match(line):
            old = line
            lines[i] = paragraph
            return Merged("\n".join(lines), paragraph, old)
    return Merged("\n".join([*lines, paragraph]), paragraph, None)


def contradictions(report: Report, text: str) -> list[Finding]:
    """What the text checks (numbers quoted, years named) would find with ``text`` as 一、总体情况.

    The data paragraph agrees with the tables by construction, but the clerk's own sentences kept
    around it may quote other numbers (or another year): both doors — ``nianbao draft`` and the
    生成数据段落 button — say so, rather than let the merged text look settled."""
    ed = report.edition
    ids = {r.id for r in (*ed.rules_of("text_numbers"), *ed.rules_of("text_year"))}
    after = dataclasses.replace(report, texts={**report.texts, TEXT_KEY: text})
    return [f for f in validate_report(after) if f.rule in ids]


# --- writing one text cell ------------------------------------------------------------------------

class DraftError(Exception):
    """The workbook cannot take the paragraph; the message is for the user."""


def _parse(data: bytes) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_blank_text=False)
    return etree.fromstring(data, parser)


def _sheet_part(z: zipfile.ZipFile, sheet: str) -> str:
    """The zip member holding ``sheet``, found through workbook.xml and its relationships."""
    book = _parse(z.read("xl/workbook.xml"))
    ns = etree.QName(book).namespace
    rid = next((s.get(f"{{{_REL_NS}}}id") for s in book.iter(f"{{{ns}}}sheet") if s.get("name") == sheet), None)
    if rid is None:
        raise DraftError(f"工作簿中没有“{sheet}”工作表")
    rels = _parse(z.read("xl/_rels/workbook.xml.rels"))
    target = next((r.get("Target") for r in rels.iter(f"{{{_PKG_NS}}}Relationship") if r.get("Id") == rid), None)
    if not target:
        raise DraftError(f"找不到“{sheet}”工作表的内容")
    return target.lstrip("/") if target.startswith("/") else str(PurePosixPath("xl") / target)


def _col_index(ref: str) -> int:
    letters = "".join(ch for ch in ref if ch.isalpha())
    out = 0
    for ch in letters:
        out = out * 26 + ord(ch.upper()) - 64
    return out


def _set_inline(sheet_xml: bytes, ref: str, text: str) -> bytes:
    """Set cell ``ref`` of a worksheet to an inline string, keeping its style; create it if absent."""
    root = _parse(sheet_xml)
    ns = etree.QName(root).namespace
    q = lambda tag: f"{{{ns}}}{tag}"  # noqa: E731
    data = root.find(q("sheetData"))
    if data is None:
        raise DraftError("封面工作表结构异常（缺少单元格数据）")
    row_no = int("".join(ch for ch in ref if ch.isdigit()))
    row = next((r for r in data.iter(q("row")) if r.get("r") == str(row_no)), None)
    if row is None:
        row = etree.Element(q("row"), r=str(row_no))
        after = [r for r in data.iter(q("row")) if r.get("r") and int(r.get("r")) < row_no]
        data.insert(data.index(after[-1]) + 1 if after else 0, row)
    cell = next((c for c in row.iter(q("c")) if c.get("r") == ref), None)
    if cell is None:
        cell = etree.Element(q("c"), r=ref)
        before = [c for c in row.iter(q("c")) if c.get("r") and _col_index(c.get("r")) < _col_index(ref)]
        row.insert(row.index(before[-1]) + 1 if before else 0, cell)
    style = cell.get("s")
    for child in list(cell):
        cell.remove(child)
    for attr in list(cell.attrib):
        del cell.attrib[attr]
    cell.set("r", ref)
    if style is not None:
        cell.set("s", style)
    cell.set("t", "inlineStr")
    t = etree.SubElement(etree.SubElement(cell, q("is")), q("t"))
    t.set(f"{{{_XML_NS}}}space", "preserve")
    t.text = text
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def write_overview(path_in: Path, path_out: Path, text: str) -> Path:
    """Write ``text`` into the 一、总体情况 cell of a copy of ``path_in`` at ``path_out`` (which may
    be ``path_in`` itself), atomically, after checking the copy reads back with nothing else changed."""
    text = xml_text(text)
    if len(text) > MAX_CELL_CHARS:
        raise DraftError(f"“一、总体情况”超过 Excel 单元格的 {MAX_CELL_CHARS} 字上限")
    before = read_report(path_in)
    sheet = before.sheet_names.get("cover") or before.edition.cover_sheet
    ref = a1(*layout_for(before.edition_key).cover.texts[TEXT_KEY])
    raw = Path(path_in).read_bytes()
    src = zipfile.ZipFile(io.BytesIO(raw))
    part = _sheet_part(src, sheet)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            body = src.read(item.filename)
            dst.writestr(item, _set_inline(body, ref, text) if item.filename == part else body)
    with atomic_path(Path(path_out)) as tmp:
        tmp.write_bytes(out.getvalue())
        after = read_report(tmp)
        others = lambda rep: {k: v for k, v in rep.texts.items() if k != TEXT_KEY}  # noqa: E731
        if (after.texts.get(TEXT_KEY) != text.strip() or after.raw != before.raw or after.cover != before.cover
                or others(after) != others(before)):
            raise DraftError("写入后核对不一致，未保存（原文件未改动）")
    return Path(path_out)


__all__ = ["DATA_PARAGRAPH", "DraftError", "Merged", "contradictions", "draft_text", "merge_overview", "write_overview"]
