"""More layouts of published reports, written by the tests: Word-pasted web pages, a page saved
from a browser with its menus, a PDF's text copied with its columns aligned by spaces, and the
tables as a spreadsheet. Like ``test_import_writers`` (whose reports and official grids these
reuse), every label is typed as the notices print it and every number comes from the report
written here, so an import is compared with an independent statement of where each number
belongs.
"""

from __future__ import annotations

import html
from pathlib import Path

from test_import_writers import GRIDS, HEADINGS, ORDER, P2, P3_ROWS, P4_GROUPS, P4_RESULTS, Cell, Published

_SPAN = "<span style='font-size:10.0pt;font-family:宋体;mso-bidi-font-family:\"Times New Roman\"'>{}</span>"


def _word_cell(text: str, rs: int, cs: int, width: int = 60) -> str:
    """A table cell as Word writes it into a web page: a paragraph and a styled span around the
    text, long labels broken with ``<br>``, an empty cell holding ``&nbsp;``, ``<o:p>`` tags."""
    attrs = (f" rowspan={rs}" if rs > 1 else "") + (f" colspan={cs}" if cs > 1 else "")
    if not text:
        body = "<span lang=EN-US>&nbsp;<o:p></o:p></span>"
    elif text.replace(".", "").isdigit():
        body = f"<span lang=EN-US style='font-size:10.0pt'>&nbsp;{html.escape(text)}<o:p></o:p></span>"
    else:
        escaped = html.escape(text)
        if len(text) > 12:
            cut = len(text) // 2
            escaped = html.escape(text[:cut]) + "<br>\n" + html.escape(text[cut:])
        body = _SPAN.format(escaped + "<span lang=EN-US><o:p></o:p></span>")
    return (f"<td width={width}{attrs} valign=top style='width:{width}pt;border:solid windowtext 1.0pt;"
            f"padding:0cm 5.4pt 0cm 5.4pt'>\n<p class=MsoNormal align=center style='text-align:center'>{body}</p>\n</td>")


def _cut(grid: list[list[Cell]], at: int) -> tuple[list[list[Cell]], list[list[Cell]]]:
    """Split a grid before row ``at`` as Word splits a table: a merged cell that runs across the
    cut is shortened above and continues below as an empty merged cell."""
    taken: dict[tuple[int, int], tuple[int, int, int, int, str]] = {}
    for r, row in enumerate(grid):
        c = 0
        for text, rs, cs in row:
            while (r, c) in taken:
                c += 1
            for i in range(rs):
                for j in range(cs):
                    taken[(r + i, c + j)] = (r, c, rs, cs, text)
            c += cs
    top: list[list[Cell]] = []
    bottom: list[list[Cell]] = []
    for r in range(len(grid)):
        cells: list[Cell] = []
        for c in sorted({c for (rr, c) in taken if rr == r}):
            r0, c0, rs, cs, text = taken[(r, c)]
            if c != c0:
                continue
            if r < at and r0 == r:
                cells.append((text, min(rs, at - r), cs))
            elif r >= at and r0 == r:
                cells.append((text, rs, cs))
            elif r == at and r0 < at:
                cells.append(("", r0 + rs - at, cs))
        (top if r < at else bottom).append(cells)
    return top, bottom


def _word_table(grid: list[list[Cell]]) -> str:
    rows = ["<tr style='height:20.0pt'>" + "".join(_word_cell(t, rs, cs) for t, rs, cs in row) + "</tr>" for row in grid]
    return ("<table class=MsoNormalTable border=1 cellspacing=0 cellpadding=0 style='border-collapse:collapse;"
            "border:none;mso-border-alt:solid windowtext .5pt'>\n" + "\n".join(rows) + "\n</table>")


def word_html(pub: Published, charset: str = "utf-8") -> bytes:
    """A report written in Word and pasted into a site's editor (or saved as a web page): Word's
    markup around every paragraph and cell, conditional comments, Part 二's blocks as separate
    tables, Part 三's table split in two inside （三）, all in a layout table of the site."""
    parts = [f"<p class=MsoNormal align=center style='text-align:center'><b><span style='font-size:22.0pt;"
             f"font-family:方正小标宋简体'>{html.escape(pub.title)}<span lang=EN-US><o:p></o:p></span></span></b></p>"]
    for key in ORDER:
        parts.append(f"<p class=MsoNormal style='text-indent:32.0pt'><b><span style='font-family:黑体'>"
                     f"{html.escape(HEADINGS[key])}</span></b><span lang=EN-US><o:p></o:p></span></p>")
        if key not in GRIDS:
            parts += [f"<p class=MsoNormal style='text-indent:32.0pt'><![if !supportLists]><span lang=EN-US>&nbsp;</span>"
                      f"<![endif]>{_SPAN.format(html.escape(line))}</p>" for line in pub.texts[key].split("\n")]
            continue
        grid = GRIDS[key](pub)
        if key == "part2":  # one table per block: title row, header row, rows
            start = 0
            for _, _, _, rows in P2[pub.edition]:
                end = start + 2 + len(rows)
                parts.append(_word_table(grid[start:end]))
                parts.append("<p class=MsoNormal><span lang=EN-US><o:p>&nbsp;</o:p></span></p>")
                start = end
        elif key == "part3":
            top, bottom = _cut(grid, 3 + 6)  # inside （三）不予公开
            parts += [_word_table(top), "<p class=MsoNormal><span lang=EN-US><o:p>&nbsp;</o:p></span></p>",
                      _word_table(bottom)]
        else:
            parts.append(_word_table(grid))
    body = "\n".join(parts)
    page = f"""<html xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office"
xmlns:w="urn:schemas-microsoft-com:office:word" xmlns="http://www.w3.org/TR/REC-html40">
<head><meta http-equiv=Content-Type content="text/html; charset={charset}">
<meta name=ProgId content=Word.Document><meta name=Generator content="Microsoft Word 15">
<!--[if gte mso 9]><xml><w:WordDocument><w:View>Print</w:View></w:WordDocument></xml><![endif]-->
<style><!-- p.MsoNormal {{margin:0cm;text-align:justify;font-size:10.5pt}} --></style></head>
<body lang=ZH-CN style='tab-interval:21.0pt;text-justify-trim:punctuation'>
<table width="100%" border=0><tr><td class="content"><div class=WordSection1 style='layout-grid:15.6pt'>
{body}
</div></td></tr></table></body></html>"""
    return page.encode("gb18030" if charset.lower() in ("gbk", "gb2312", "gb18030") else charset)


def browser_page(pub: Published) -> bytes:
    """A report page as a browser saves it (“网页，全部”): the site's menus, a sidebar listing
    other years' reports, breadcrumbs, a share bar and the footer around the article, GBK with
    an HTML5 ``<meta charset>``."""
    others = "".join(f'<li><a href="/art/{y}.html">{html.escape(pub.unit)}{y}年政府信息公开工作年度报告</a></li>'
                     for y in (pub.year - 1, pub.year - 2, pub.year - 3))
    article = word_html(pub).decode("utf-8")
    inner = article[article.index("<div class=WordSection1"):article.index("</div></td></tr></table>") + 6]
    page = f"""<!DOCTYPE html><html lang="zh-CN"><head><meta charset="gbk">
<title>{html.escape(pub.title)}-青禾县人民政府</title><link rel="stylesheet" href="./年报_files/main.css">
<script src="./年报_files/jquery.min.js"></script></head>
<body><div class="top"><a href="/">青禾县人民政府</a> <a href="/zwgk/">政务公开</a> <a href="/hdjl/">互动交流</a>
<form><input name="q" value="请输入关键字"><button>搜索</button></form></div>
<div class="crumb">您当前的位置：<a href="/">首页</a> &gt; <a>政府信息公开</a> &gt; <a>政府信息公开年报</a></div>
<div class="left"><h3>政府信息公开年报</h3><ul>{others}</ul></div>
<div class="article"><h1>{html.escape(pub.title)}</h1>
<div class="meta">发布时间：{pub.year + 1}-01-25 信息来源：县政府办 浏览次数：<span id="hits">128</span></div>
{inner}
<div class="share">分享到：<a>微信</a><a>微博</a></div></div>
<div class="related"><h3>相关文章</h3><ul>{others}</ul></div>
<div class="footer"><p>版权所有：青禾县人民政府办公室 网站标识码：3300000000 浙ICP备00000000号</p></div>
</body></html>"""
    return page.encode("gbk")


# --- a PDF's text with its columns aligned by spaces ------------------------------------------

def _pad(text: str, width: int) -> str:
    """Pad to ``width`` display columns (a Chinese character takes two, as in a terminal)."""
    shown = sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)
    return text + " " * max(2, width - shown)


def _wrap(label: str, width: int) -> list[str]:
    return [label[i:i + width] for i in range(0, len(label), width)] or [""]


def aligned_text(pub: Published, wrap: int = 14) -> str:
    """What ``pdftotext -layout`` (or copying out of a PDF viewer) gives for a report whose
    tables have narrow label columns: cells aligned with spaces, long row labels wrapped onto
    the next line (numbers on the first line of some rows, on the last of others), the vertical
    “三、本年度办理结果” one character a line, group labels on lines of their own, Part 四's
    three-level header in pieces, page numbers between pages."""
    lines = [f"          {pub.unit}", f"      {pub.year}年政府信息公开工作年度报告", ""]
    page = 1
    for key in ORDER:
        lines.append(f"    {HEADINGS[key]}")
        if key not in GRIDS:
            for text in pub.texts[key].split("\n"):
                lines += ["  " + text[i:i + 28] for i in range(0, len(text), 28)]
            continue
        if key == "part2":
            for block, title, cols, rows in P2[pub.edition]:
                lines += [f"              {title}", "", "   " + "".join(_pad(h, 18) for h in ["信息内容", *[c for _, c in cols]]), ""]
                for row, label in rows:
                    values = [pub.value(f"part2.{block}.{row}.{c}") for c, _ in cols]
                    lines += [_pad(label, 18) + "".join(_pad(v, 12) for v in values), ""]
        elif key == "part3":
            lines += ["                                        申请人情况", "",
                      "                                                法人或其他组织",
                      "（本列数据的勾稽关系为：第一项加第二项之和，",
                      "等于第三项加第四项之和）               自然人   商业  科研  社会  法律  其他   总计",
                      "                                                 企业  机构  公益  服务",
                      "                                                             组织  机构", ""]
            seen_groups: set[str] = set()
            for n, (row, path) in enumerate(P3_ROWS[pub.edition]):
                for depth, group in enumerate(path[:-1]):
                    if group in seen_groups:
                        continue
                    seen_groups.add(group)
                    if depth == 0:
                        lines += [ch for ch in group]  # the vertical label, one character a line
                    else:
                        lines.append(f"      {group}")
                values = "   ".join(pub.value(f"part3.main.{row}.{c}") for c in
                                    ("natural", "business", "research", "nonprofit", "legal", "other_org", "total"))
                pieces = _wrap(path[-1], wrap)
                if len(pieces) == 1:
                    lines.append(_pad("        " + pieces[0], 40) + values)
                elif n % 2:  # the numbers on the label's first line
                    lines.append(_pad("        " + pieces[0], 40) + values)
                    lines += ["        " + p for p in pieces[1:]]
                else:  # the label first, the numbers on its last line
                    lines += ["        " + p for p in pieces[:-1]]
                    lines.append(_pad("        " + pieces[-1], 40) + values)
                if n == 12:
                    page += 1
                    lines += ["", f"                                 -{page - 1}-", "\f"]
        else:
            lines += ["         行政复议                              行政诉讼",
                      "                              未经复议直接起诉                  复议后起诉",
                      "结果   结果     其他   尚未",
                      "                    总 计 结果 结果 其他 尚未     结果 结果 其他 尚未",
                      "维持   纠正     结果   审结                                               总计",
                      "                                    总 计",
                      "                        维持 纠正 结果 审结     维持 纠正 结果 审结", "",
                      " " + " ".join(pub.value(f"part4.main.cases.{g}_{r}") for g, _ in P4_GROUPS for r, _ in P4_RESULTS)]
    lines += ["", f"                          -{page}-"]
    return "\n".join(lines) + "\n"


def tables_xlsx(pub: Published, path: Path) -> Path:
    """The three tables as a unit publishes them in a spreadsheet: one sheet per table, merged
    cells as in the notice, a title above each (written with openpyxl, converted to .xls/.et by
    LibreOffice in the tests)."""
    import openpyxl

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for key, name in (("part2", "主动公开"), ("part3", "依申请公开"), ("part4", "复议诉讼")):
        ws = wb.create_sheet(name)
        ws.cell(1, 1, HEADINGS[key])
        taken: set[tuple[int, int]] = set()
        for r, row in enumerate(GRIDS[key](pub), start=2):
            c = 1
            for text, rs, cs in row:
                while (r, c) in taken:
                    c += 1
                number = text.replace(".", "", 1).isdigit()
                ws.cell(r, c, (float(text) if "." in text else int(text)) if number else text)
                if rs > 1 or cs > 1:
                    ws.merge_cells(start_row=r, start_column=c, end_row=r + rs - 1, end_column=c + cs - 1)
                taken |= {(r + i, c + j) for i in range(rs) for j in range(cs)}
                c += cs
    first = wb.create_sheet("说明", 0)
    first.cell(1, 1, pub.title)
    wb.save(path)
    return path
