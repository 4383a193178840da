"""Small published reports written by the tests themselves, in every layout the importer reads.

The labels here are typed as the notices print them (not taken from the spec), and the numbers
and their totals are computed here, so that an import test compares the importer with an
independent statement of where each number belongs. The writers mimic what websites and Word
produce: the seed's tab dump, one cell per line, ``|`` rows, tab rows, HTML with rowspan/colspan
(inside a site's layout table, GBK-encoded, with unclosed cells), and Word tables with merges.
The other import, audit and compare tests import these writers; the tests at the bottom check
the writers themselves against the official layout.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

P3_COLUMNS = ("natural", "business", "research", "nonprofit", "legal", "other_org", "total")
P3_HEAD = "（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）"
RESULT = "三、本年度办理结果"
P3_ROWS: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
_BASE = [
    ("new", ("一、本年新收政府信息公开申请数量",)),
    ("carried", ("二、上年结转政府信息公开申请数量",)),
    ("public", (RESULT, "（一）予以公开")),
    ("partial", (RESULT, "（二）部分公开（区分处理的，只计这一情形，不计其他情形）")),
    ("withheld_secret", (RESULT, "（三）不予公开", "1.属于国家秘密")),
    ("withheld_law", (RESULT, "（三）不予公开", "2.其他法律行政法规禁止公开")),
    ("withheld_safety", (RESULT, "（三）不予公开", "3.危及“三安全一稳定”")),
    ("withheld_third_party", (RESULT, "（三）不予公开", "4.保护第三方合法权益")),
    ("withheld_internal", (RESULT, "（三）不予公开", "5.属于三类内部事务信息")),
    ("withheld_process", (RESULT, "（三）不予公开", "6.属于四类过程性信息")),
    ("withheld_enforcement", (RESULT, "（三）不予公开", "7.属于行政执法案卷")),
    ("withheld_query", (RESULT, "（三）不予公开", "8.属于行政查询事项")),
    ("unable_no_info", (RESULT, "（四）无法提供", "1.本机关不掌握相关政府信息")),
    ("unable_need_create", (RESULT, "（四）无法提供", "2.没有现成信息需要另行制作")),
    ("unable_unclear", (RESULT, "（四）无法提供", "3.补正后申请内容仍不明确")),
    ("rejected_petition", (RESULT, "（五）不予处理", "1.信访举报投诉类申请")),
    ("rejected_repeat", (RESULT, "（五）不予处理", "2.重复申请")),
    ("rejected_publication", (RESULT, "（五）不予处理", "3.要求提供公开出版物")),
    ("rejected_mass", (RESULT, "（五）不予处理", "4.无正当理由大量反复申请")),
    ("rejected_confirm", (RESULT, "（五）不予处理", "5.要求行政机关确认或重新出具已获取信息")),
]
_TAIL = [("total", (RESULT, "（七）总计")), ("carry_next", ("四、结转下年度继续办理",))]
P3_ROWS["2019"] = _BASE + [("other", (RESULT, "（六）其他处理"))] + _TAIL
P3_ROWS["2021"] = _BASE + [
    ("other_no_correction", (RESULT, "（六）其他处理", "1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请")),
    ("other_no_fee", (RESULT, "（六）其他处理", "2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请")),
    ("other_other", (RESULT, "（六）其他处理", "3.其他")),
] + _TAIL
P3_HEADER_LABELS = ("申请人情况", "自然人", "法人或其他组织", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他", "总计")

# Part 二: (block key, block title, [(column key, header)], [(row key, label)]).
P2: dict[str, list[tuple[str, str, list[tuple[str, str]], list[tuple[str, str]]]]] = {
    "2021": [
        ("a1", "第二十条第（一）项", [("issued", "本年制发件数"), ("repealed", "本年废止件数"), ("in_force", "现行有效件数")],
         [("rules", "规章"), ("normative", "行政规范性文件")]),
        ("a5", "第二十条第（五）项", [("decisions", "本年处理决定数量")], [("licensing", "行政许可")]),
        ("a6", "第二十条第（六）项", [("decisions", "本年处理决定数量")], [("penalty", "行政处罚"), ("coercion", "行政强制")]),
        ("a8", "第二十条第（八）项", [("amount", "本年收费金额（单位：万元）")], [("fees", "行政事业性收费")]),
    ],
    "2019": [
        ("a1", "第二十条第（一）项", [("made", "本年新制作数量"), ("published", "本年新公开数量"), ("total", "对外公开总数量")],
         [("rules", "规章"), ("normative", "规范性文件")]),
        ("a5", "第二十条第（五）项", [("previous", "上一年项目数量"), ("change", "本年增/减"), ("decisions", "处理决定数量")],
         [("licensing", "行政许可"), ("other_services", "其他对外管理服务事项")]),
        ("a6", "第二十条第（六）项", [("previous", "上一年项目数量"), ("change", "本年增/减"), ("decisions", "处理决定数量")],
         [("penalty", "行政处罚"), ("coercion", "行政强制")]),
        ("a8", "第二十条第（八）项", [("previous", "上一年项目数量"), ("change", "本年增/减")], [("fees", "行政事业性收费")]),
        ("a9", "第二十条第（九）项", [("projects", "采购项目数量"), ("amount", "采购总金额")], [("procurement", "政府集中采购")]),
    ],
}
P4_GROUPS = (("review", ("行政复议",)), ("direct", ("行政诉讼", "未经复议直接起诉")), ("after", ("行政诉讼", "复议后起诉")))
P4_RESULTS = (("upheld", "结果维持"), ("corrected", "结果纠正"), ("other", "其他结果"), ("pending", "尚未审结"), ("total", "总计"))
HEADINGS = {"overview": "一、总体情况", "part2": "二、主动公开政府信息情况", "part3": "三、收到和处理政府信息公开申请情况",
            "part4": "四、政府信息公开行政复议、行政诉讼情况", "problems": "五、存在的主要问题及改进情况",
            "other": "六、其他需要报告的事项"}


@dataclass
class Published:
    """A report to publish: unit, year, edition, texts and every cell's text (as published)."""

    unit: str
    year: int
    edition: str
    cells: dict[str, str] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return f"{self.unit}{self.year}年政府信息公开工作年度报告"

    def value(self, cid: str) -> str:
        return self.cells.get(cid, "0")


def sample(unit: str = "青禾县市场监督管理局", year: int = 2026, edition: str = "2021", seed: int = 1) -> Published:
    """A consistent report: inputs from a simple pattern, totals added up here."""
    pub = Published(unit, year, edition)
    for block, _, cols, rows in P2[edition]:
        for i, (row, _) in enumerate(rows):
            for j, (col, _) in enumerate(cols):
                value = (seed * 7 + i * 5 + j * 3) % 40 + (0 if row != "rules" else -100)
                value = max(value, 0)
                if col == "amount":
                    pub.cells[f"part2.{block}.{row}.{col}"] = f"{value / 8:.2f}"
                elif col == "change":
                    pub.cells[f"part2.{block}.{row}.{col}"] = str(value - 20)
                else:
                    pub.cells[f"part2.{block}.{row}.{col}"] = str(value)
    rows = [k for k, _ in P3_ROWS[edition]]
    outcomes = [k for k in rows if k not in ("new", "carried", "total", "carry_next")]
    for j, col in enumerate(P3_COLUMNS[:-1]):
        counts = {k: (seed + 3 * i + 2 * j) % 4 if (i + j) % 3 == 0 else 0 for i, k in enumerate(outcomes)}
        handled = sum(counts.values())
        carried = (seed + j) % 2
        carry_next = (seed + j + 1) % 3
        new = handled + carry_next - carried
        if new < 0:
            counts[outcomes[0]] -= new
            handled -= new
            new = 0
        values = {**counts, "new": new, "carried": carried, "carry_next": carry_next, "total": handled}
        for k, v in values.items():
            pub.cells[f"part3.main.{k}.{col}"] = str(v)
    for k in rows:
        pub.cells[f"part3.main.{k}.total"] = str(sum(int(pub.cells[f"part3.main.{k}.{c}"]) for c in P3_COLUMNS[:-1]))
    for g, _ in P4_GROUPS:
        parts = [(seed + len(g) + i) % 3 for i in range(4)]
        for (r, _), v in zip(P4_RESULTS, [*parts, sum(parts)]):
            pub.cells[f"part4.main.cases.{g}_{r}"] = str(v)
    pub.texts = {"overview": f"{year}年，本机关认真贯彻落实《中华人民共和国政府信息公开条例》。\n全年主动公开政府信息 120 条。",
                 "problems": "一是公开的及时性有待提高；二是答复的规范性还需加强。下一步将加强培训，完善机制。",
                 "other": f"本机关{year}年度未收取信息处理费。"}
    return pub


def numbers(pub: Published) -> dict[str, float]:
    """What each published cell means as a number (the test's own reading of plain numbers)."""
    return {cid: float(text) if text.strip() else 0.0 for cid, text in pub.cells.items()}


# --- grids: the official layouts as rows of (text, rowspan, colspan) ---------------------------

Cell = tuple[str, int, int]


def p2_grid(pub: Published) -> list[list[Cell]]:
    width = 4
    out: list[list[Cell]] = []
    for block, title, cols, rows in P2[pub.edition]:
        out.append([(title, 1, width)])
        head: list[Cell] = [("信息内容", 1, 1)]
        for j, (_, label) in enumerate(cols):
            head.append((label, 1, width - 1 - j if j == len(cols) - 1 else 1))
        out.append(head)
        for row, label in rows:
            line: list[Cell] = [(label, 1, 1)]
            for j, (col, _) in enumerate(cols):
                line.append((pub.value(f"part2.{block}.{row}.{col}"), 1, width - 1 - j if j == len(cols) - 1 else 1))
            out.append(line)
    return out


def p3_grid(pub: Published) -> list[list[Cell]]:
    rows = P3_ROWS[pub.edition]
    out: list[list[Cell]] = [
        [(P3_HEAD, 3, 3), ("申请人情况", 1, 7)],
        [("自然人", 2, 1), ("法人或其他组织", 1, 5), ("总计", 2, 1)],
        [(x, 1, 1) for x in ("商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他")],
    ]
    for i, (key, path) in enumerate(rows):
        line: list[Cell] = []
        for depth, label in enumerate(path):
            if i > 0 and rows[i - 1][1][: depth + 1] == path[: depth + 1]:
                continue  # covered by the rowspan above
            span = 1
            while i + span < len(rows) and rows[i + span][1][: depth + 1] == path[: depth + 1]:
                span += 1
            cols = 3 - depth if depth == len(path) - 1 else 1
            line.append((label, span, cols))
        line += [(pub.value(f"part3.main.{key}.{c}"), 1, 1) for c in P3_COLUMNS]
        out.append(line)
    return out


def p4_grid(pub: Published) -> list[list[Cell]]:
    return [
        [("行政复议", 1, 5), ("行政诉讼", 1, 10)],
        [*[(label, 2, 1) for _, label in P4_RESULTS], ("未经复议直接起诉", 1, 5), ("复议后起诉", 1, 5)],
        [(label, 1, 1) for _ in range(2) for _, label in P4_RESULTS],
        [(pub.value(f"part4.main.cases.{g}_{r}"), 1, 1) for g, _ in P4_GROUPS for r, _ in P4_RESULTS],
    ]


GRIDS = {"part2": p2_grid, "part3": p3_grid, "part4": p4_grid}
ORDER = ("overview", "part2", "part3", "part4", "problems", "other")


# --- text layouts ------------------------------------------------------------------------------

def _dump_rows(grid: list[list[Cell]]) -> list[list[str]]:
    """What copying a merged table out of a browser gives: each row's own cells, in order."""
    return [[text for text, _, _ in row] for row in grid]


def tab_dump(pub: Published, skip: tuple[str, ...] = ()) -> str:
    """The seed's layout: a tab opens each cell, a blank line ends a row."""
    lines = [pub.title, f"本年报中所列数据的统计期限自{pub.year}年1月1日起至{pub.year}年12月31日止。"]
    for key in ORDER:
        lines.append(HEADINGS[key])
        if key in GRIDS:
            if key in skip:
                continue
            for row in _dump_rows(GRIDS[key](pub)):
                lines += ["\t" + cell for cell in row] + [""]
        else:
            lines += pub.texts[key].split("\n")
    return "\n".join(lines) + "\n"


def cell_per_line(pub: Published) -> str:
    lines = [pub.title]
    for key in ORDER:
        lines.append(HEADINGS[key])
        if key in GRIDS:
            lines += [cell for row in _dump_rows(GRIDS[key](pub)) for cell in row if cell]
        else:
            lines += pub.texts[key].split("\n")
    return "\n".join(lines) + "\n"


def separated(pub: Published, sep: str) -> str:
    """Rows on lines with ``|`` (a Markdown table) or tab separators; merged cells repeated."""
    lines = [pub.title]
    for key in ORDER:
        lines.append(HEADINGS[key])
        if key not in GRIDS:
            lines += pub.texts[key].split("\n")
            continue
        for i, row in enumerate(_dump_rows(GRIDS[key](pub))):
            lines.append(f"| {' | '.join(row)} |" if sep == "|" else "\t".join(row))
            if sep == "|" and i == 0:
                lines.append("|" + "---|" * len(row))
    return "\n".join(lines) + "\n"


# --- HTML and Word -----------------------------------------------------------------------------

def html_table(grid: list[list[Cell]], sloppy: bool = False) -> str:
    out = ['<table border="1" cellspacing="0" style="border-collapse:collapse">']
    for row in grid:
        cells = []
        for text, rs, cs in row:
            attrs = (f' rowspan="{rs}"' if rs > 1 else "") + (f" colspan={cs}" if cs > 1 else "")
            body = html.escape(text).replace("本年新制作", "本年新<br>制作") or "&nbsp;"
            body = f'<p style="text-align:center"><span style="font-size:12px">{body}</span></p>'
            cells.append(f"<td{attrs}>{body}" + ("" if sloppy else "</td>"))
        out.append("<tr>" + "".join(cells) + ("" if sloppy else "</tr>"))
    return "\n".join(out) + "</table>"


def html_page(pub: Published, images: dict[str, str] | None = None, skip: tuple[str, ...] = (),
              sloppy: bool = True, charset: str = "gbk") -> bytes:
    """A government site's article page: navigation, a layout table around the article."""
    images = images or {}
    body = []
    for key in ORDER:
        body.append(f'<p style="text-indent:2em"><strong>{html.escape(HEADINGS[key])}</strong></p>')
        if key in GRIDS:
            if key in images:
                body.append(f'<p align="center"><img src="{images[key]}" alt="表格"></p>')
            elif key not in skip:
                body.append(html_table(GRIDS[key](pub), sloppy))
        else:
            body += [f"<p>&nbsp;&nbsp;{html.escape(p)}</p>" for p in pub.texts[key].split("\n")]
    page = f"""<!DOCTYPE html><html><head><meta http-equiv="Content-Type" content="text/html; charset={charset}">
<title>{html.escape(pub.title)}_青禾县人民政府</title>
<meta name="ArticleTitle" content="{html.escape(pub.title)}">
<script>var x = "<td>不是表格</td>";</script><style>td{{border:1px solid}}</style></head>
<body><div class="nav">首页 &gt; 政务公开 &gt; 政府信息公开年报</div>
<table width="100%"><tr><td class="side">栏目导航</td><td class="main">
<h1 class="title">{html.escape(pub.title)}</h1><div class="info">发布时间：{pub.year + 1}-01-20　来源：本站</div>
{''.join(body)}
</td></tr></table>
<div class="footer"><p>【打印本页】【关闭窗口】</p><p>主办单位：青禾县人民政府办公室</p></div></body></html>"""
    return page.encode("gb18030" if charset == "gbk" else charset)


def _word_rows(grid: list[list[Cell]]) -> list[list[tuple[str, int, str | None]]]:
    """Each row as Word stores it: (text, gridSpan, vMerge) per cell, a cell continued from the
    row above written as an empty ``vMerge`` cell (as Word itself does)."""
    taken: dict[tuple[int, int], tuple[int, int, int]] = {}
    anchors: dict[tuple[int, int], tuple[str, int, int]] = {}
    for r, row in enumerate(grid):
        c = 0
        for text, rs, cs in row:
            while (r, c) in taken:
                c += 1
            anchors[(r, c)] = (text, rs, cs)
            for i in range(rs):
                for j in range(cs):
                    taken[(r + i, c + j)] = (r, c, cs)
            c += cs
    out = []
    for r in range(len(grid)):
        cells = []
        for c in sorted({c0 for (rr, _), (r0, c0, _) in taken.items() if rr == r}):
            r0, _, cs = next(v for (rr, cc), v in taken.items() if rr == r and v[1] == c)
            text, rs, _ = anchors[(r0, c)]
            vmerge = None if rs == 1 else ("restart" if r0 == r else "continue")
            cells.append((text if r0 == r else "", cs, vmerge))
        out.append(cells)
    return out


def write_docx(pub: Published, path: Path, skip: tuple[str, ...] = (), picture: str | None = None,
               ruled: bool = False) -> Path:
    """A Word file as offices write them: headings as paragraphs, tables with merged cells
    (``ruled``: with borders, as the official tables are printed)."""
    import base64
    import io

    from docx import Document
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Cm

    def el(tag: str, **attrs: str) -> object:
        e = OxmlElement(tag)
        for k, v in attrs.items():
            e.set(qn(k), v)
        return e

    doc = Document()
    doc.add_paragraph(pub.title)
    for key in ORDER:
        doc.add_paragraph(HEADINGS[key])
        if key not in GRIDS:
            for p in pub.texts[key].split("\n"):
                doc.add_paragraph(p)
            continue
        if key == picture:
            png = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
            doc.add_picture(io.BytesIO(png), width=Cm(2))
            continue
        if key in skip:
            continue
        rows = _word_rows(GRIDS[key](pub))
        table = doc.add_table(rows=len(rows), cols=sum(cs for _, cs, _ in rows[0]))
        if ruled:
            table.style = "Table Grid"
        for tr, cells in zip(table._tbl.tr_lst, rows):
            for tc in list(tr.tc_lst):
                tr.remove(tc)
            for text, cs, vmerge in cells:
                tc, pr = el("w:tc"), el("w:tcPr")
                if cs > 1:
                    pr.append(el("w:gridSpan", **{"w:val": str(cs)}))
                if vmerge:
                    pr.append(el("w:vMerge", **({"w:val": "restart"} if vmerge == "restart" else {})))
                par, run, t = el("w:p"), el("w:r"), el("w:t")
                t.text = text
                run.append(t)
                par.append(run)
                tc.append(pr)
                tc.append(par)
                tr.append(tc)
    doc.save(str(path))
    return path


# --- the writers checked against the official layout --------------------------------------------

def _width(grid: list[list[Cell]]) -> set[int]:
    """Row widths after laying out rowspans (every row of an official table has the same width)."""
    taken: set[tuple[int, int]] = set()
    for r, row in enumerate(grid):
        c = 0
        for _, rs, cs in row:
            while (r, c) in taken:
                c += 1
            taken |= {(r + i, c + j) for i in range(rs) for j in range(cs)}
            c += cs
    return {sum(1 for (rr, _) in taken if rr == r) for r in range(len(grid))}


def test_official_grids_are_rectangular() -> None:
    for edition in ("2019", "2021"):
        pub = sample(edition=edition, year=2020 if edition == "2019" else 2026)
        assert _width(p3_grid(pub)) == {10}
        assert _width(p4_grid(pub)) == {15}
        assert _width(p2_grid(pub)) == {4}


def test_sample_numbers_add_up() -> None:
    pub = sample()
    n = numbers(pub)
    for c in P3_COLUMNS:
        items = [k for k, _ in P3_ROWS["2021"] if k not in ("new", "carried", "total", "carry_next")]
        assert n[f"part3.main.total.{c}"] == sum(n[f"part3.main.{k}.{c}"] for k in items)
        assert n[f"part3.main.new.{c}"] + n[f"part3.main.carried.{c}"] == n[f"part3.main.total.{c}"] + n[f"part3.main.carry_next.{c}"]
    assert all(v >= 0 for cid, v in n.items() if not cid.endswith(".change"))


def expected_raw(value: Any) -> Any:
    """How a plain published number is stored: an int, or a float with a decimal point."""
    text = str(value).strip()
    return float(text) if "." in text else int(text)
