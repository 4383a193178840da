"""生成数据段落 through the real server: ``nianbao serve`` on loopback, payloads built from a sample
unit's workbook for both clients, the answers applied back onto the file and read with openpyxl at
the cell the workbook's own defined name NB_TEXT_OVERVIEW points to, and checked again with
``checks.validate_report`` on the re-read file.

Why: the button writes into the one cell a clerk writes most of by hand, 一、总体情况. What must
hold: the numbers are the tables' (summed here from the input cells), the clerk's narrative is
kept, nothing the clerk wrote changes without consent (Office.js asks; VBA cannot ask, so it writes
only when the merge replaces nothing but an earlier data paragraph), and every action is one the
posting client runs.
"""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.request import Request, urlopen

import openpyxl
import pytest

from addin_support import NO_BROWSER, find_browser, headless_dom, require_xlwings_server, running_server
from openpyxl.cell.cell import MergedCell

os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")  # in-process books (government use)

from addin.excel.actions import apply_actions, unsupported_actions
from addin.publish.draft import write_overview
from addin.excel.payload import build_payload
from addin.publish.safety import FORMULA_STARTS
from checks import validate_report
from workbook.layout import layout_for
from workbook.read import read_report
from workbook.spec import load_edition

require_xlwings_server()

ROOT = Path(__file__).resolve().parents[1]
INBOX = ROOT / "samples" / "青禾县-2026" / "收文"
#: A sample unit without errors whose own narrative quotes a number the tables do not have (R3.7).
UNIT = INBOX / "青禾县卫生健康局.xlsx"
WITH_ERRORS = INBOX / "青禾县公安局.xlsx"
CLIENTS = ["VBA", "Office.js"]
NARRATIVE = ("全年政府信息公开工作有序推进，依申请公开答复规范。", "下一步将继续完善工作机制。")
STALE = "2026年，本机关共收到政府信息公开申请999件，上年结转0件；办结999件。"
TEXT_RULES = {r.id for r in load_edition("2021").rules if r.kind in ("text_numbers", "text_year")}



@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``nianbao serve`` in a subprocess, the licence key from its config file."""
    root = tmp_path_factory.mktemp("serve-draft")
    with running_server(root) as url:
        yield url


def post(url: str, script: str, path: Path, client: str) -> list[dict[str, Any]]:
    """One click: the workbook as the client posts it, the server's actions back."""
    req = Request(f"{url}/xlwings/custom-scripts-call/{script}", data=json.dumps(build_payload(path, client)).encode(),
                  headers={"Content-Type": "application/json"})
    with urlopen(req, timeout=120) as r:
        actions = json.load(r)["actions"]
    assert unsupported_actions(actions, client) == [], script
    return actions


def alerts(actions: list[dict[str, Any]]) -> list[list[Any]]:
    return [a["args"] for a in actions if a["func"] == "alert"]


def writes(actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [a for a in actions if a["func"] != "alert"]


def overview_cell(path: Path) -> tuple[str, str]:
    """(sheet, cell) of 一、总体情况, from the workbook's own defined name."""
    wb = openpyxl.load_workbook(path)
    ((sheet, ref),) = list(wb.defined_names["NB_TEXT_OVERVIEW"].destinations)
    return sheet, ref.replace("$", "").split(":")[0]


def overview(path: Path) -> str:
    sheet, ref = overview_cell(path)
    return openpyxl.load_workbook(path)[sheet][ref].value or ""


def figures(path: Path) -> dict[str, int]:
    """The numbers a person would quote, summed here from the input cells read with openpyxl."""
    ed = load_edition("2021")
    lay = layout_for("2021")
    wb = openpyxl.load_workbook(path, data_only=True)

    def v(cid: str) -> float:
        r, c = lay.pos(cid)
        value = wb[lay.sheet_of(cid)].cell(r + 1, c + 1).value
        return float(value) if isinstance(value, (int, float)) else 0.0

    block = ed.table("part3").blocks[0]
    people = [c.key for c in block.columns if c.key != "total"]
    row = lambda key: sum(v(f"part3.main.{key}.{c}") for c in people)  # noqa: E731
    results = [r.key for r in block.rows if r.path[0].startswith("三、") and r.key != "total"]
    p4 = lambda kind: sum(v(f"part4.main.cases.{kind}_{k}") for k in ("upheld", "corrected", "other", "pending"))  # noqa: E731
    return {"new": int(row("new")), "carried": int(row("carried")), "done": int(sum(row(k) for k in results)),
            "carry": int(row("carry_next")), "review": int(p4("review")), "lawsuits": int(p4("direct") + p4("after"))}


def assert_quotes_the_tables(paragraph: str, path: Path) -> None:
    f = figures(path)
    assert paragraph.startswith(f"2026年，本机关共收到政府信息公开申请{f['new']}件，上年结转{f['carried']}件；"
                                f"办结{f['done']}件，其中"), paragraph
    assert f"结转下年度继续办理{f['carry']}件。" in paragraph
    assert paragraph.endswith(f"行政复议{f['review']}件、行政诉讼{f['lawsuits']}件。")


def assert_writes_only_the_overview(path: Path, actions: list[dict[str, Any]], client: str) -> None:
    """One value, into the unlocked top-left cell of 一、总体情况 on the protected cover."""
    (write,) = writes(actions)
    assert write["func"] == "setValues" and write["row_count"] == write["column_count"] == 1
    payload = build_payload(path, client)
    sheet, ref = overview_cell(path)
    ws = openpyxl.load_workbook(path)[payload["sheets"][write["sheet_position"]]["name"]]
    cell = ws.cell(write["start_row"] + 1, write["start_column"] + 1)
    assert (ws.title, cell.coordinate) == (sheet, ref)
    assert ws.protection.sheet and not cell.protection.locked and not isinstance(cell, MergedCell)


def text_findings(path: Path) -> list[str]:
    return [f.message for f in validate_report(read_report(path)) if f.rule in TEXT_RULES]


@pytest.fixture(scope="module")
def books(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sample unit three ways: as submitted (a narrative quoting a wrong number, no data
    paragraph), with an out-of-date data paragraph between two narrative lines, and blank."""
    root = tmp_path_factory.mktemp("draft-books")
    stale = write_overview(UNIT, root / "stale.xlsx", "\n".join([NARRATIVE[0], STALE, NARRATIVE[1]]))
    blank = write_overview(UNIT, root / "blank.xlsx", "")
    return {"own": UNIT, "stale": stale, "blank": blank}


def saved_by_excel(source: Path, applied: Path, target: Path) -> Path:
    """What Excel saves after the click: the source with the cell as the click left it. (openpyxl,
    which applied the actions, drops the formulas' cached results, which Excel would keep.)"""
    return write_overview(source, target, overview(applied))


def test_the_samples_start_out_contradicting_their_tables(books: dict[str, Path]) -> None:
    """The premise of the other tests, checked the way ``nianbao validate`` checks."""
    assert any("999" in m for m in text_findings(books["stale"]))
    assert any("11件" in m for m in text_findings(books["own"]))
    assert overview(books["blank"]) == "" and not [f for f in validate_report(read_report(books["stale"]))
                                                   if f.severity == "hard"]


@pytest.mark.parametrize("client", CLIENTS)
def test_an_out_of_date_data_paragraph_is_replaced_and_the_narrative_kept(server: str, books: dict[str, Path],
                                                                          tmp_path: Path, client: str) -> None:
    path = books["stale"]
    first = post(server, "draft", path, client)
    if client == "Office.js":  # asks first: a yes/no question whose yes runs draft_apply
        assert writes(first) == []
        ((prompt, _title, buttons, _mode, callback),) = alerts(first)
        assert buttons == "yes_no" and callback == "nbDraftOverview"
        assert STALE in prompt and "是否写入" in prompt
        actions = post(server, "draft_apply", path, client)
    else:  # VBA cannot ask: only the earlier data paragraph changes, and the message shows it
        actions = first
    assert_writes_only_the_overview(path, actions, client)
    out = tmp_path / "out.xlsx"
    apply_actions(path, actions, out, client=client)
    lines = overview(out).split("\n")
    assert len(lines) == 3 and (lines[0], lines[2]) == NARRATIVE
    assert_quotes_the_tables(lines[1], path)
    assert text_findings(out) == []  # R3.7 passes on the re-read file
    ((prompt, *_),) = alerts(actions)
    assert STALE in prompt and lines[1] in prompt
    # a second click finds nothing to do and writes nothing
    again = post(server, "draft", saved_by_excel(path, out, tmp_path / "saved.xlsx"), client)
    assert writes(again) == [] and "无需修改" in alerts(again)[0][0]


@pytest.mark.parametrize("client", CLIENTS)
def test_a_blank_overview_is_filled_without_asking(server: str, books: dict[str, Path], tmp_path: Path,
                                                   client: str) -> None:
    path = books["blank"]
    actions = post(server, "draft", path, client)
    assert_writes_only_the_overview(path, actions, client)
    assert all(a[2] == "ok" for a in alerts(actions))
    out = tmp_path / "out.xlsx"
    apply_actions(path, actions, out, client=client)
    assert "\n" not in overview(out)
    assert_quotes_the_tables(overview(out), path)
    assert text_findings(out) == []


@pytest.mark.parametrize("client", CLIENTS)
def test_the_clerks_own_text_is_never_overwritten_silently(server: str, books: dict[str, Path], tmp_path: Path,
                                                           client: str) -> None:
    """The unit's own narrative has no data paragraph to replace: Office.js asks, VBA shows the
    paragraph and how to apply it; neither writes. Applying (the yes, or the VBA button) appends
    the paragraph after the narrative, which is kept verbatim — and the answer says that the
    narrative's own wrong number remains."""
    path = books["own"]
    before = overview(path)
    first = post(server, "draft", path, client)
    assert writes(first) == []
    ((prompt, _title, buttons, _mode, callback),) = alerts(first)
    if client == "Office.js":
        assert (buttons, callback) == ("yes_no", "nbDraftOverview") and "是否写入" in prompt
    else:
        assert (buttons, callback) == ("ok", "") and "写入数据段落" in prompt and "Ctrl+C" in prompt
    assert "收到政府信息公开申请11件" in prompt  # the contradiction is named before anything is written
    actions = post(server, "draft_apply", path, client)
    assert_writes_only_the_overview(path, actions, client)
    out = tmp_path / "out.xlsx"
    apply_actions(path, actions, out, client=client)
    text = overview(out)
    assert text.startswith(before + "\n") and text.count("\n") == 1
    assert_quotes_the_tables(text.split("\n")[1], path)
    assert [m for m in text_findings(out) if "11件" in m] and "原有文字中仍有与表格不符之处" in alerts(actions)[0][0]


@pytest.mark.parametrize("client", CLIENTS)
def test_tables_with_errors_get_no_paragraph(server: str, client: str) -> None:
    hard = {f.rule for f in validate_report(read_report(WITH_ERRORS)) if f.severity == "hard"}
    assert hard
    for script in ("draft", "draft_apply"):
        actions = post(server, script, WITH_ERRORS, client)
        assert writes(actions) == []
        ((prompt, *_),) = alerts(actions)
        assert "校验" in prompt and all(rule in prompt for rule in hard) and "内部错误" not in prompt


def test_a_workbook_that_is_not_the_template_gets_a_chinese_alert(server: str, tmp_path: Path) -> None:
    plain = tmp_path / "plain.xlsx"
    wb = openpyxl.Workbook()
    wb.active["A1"] = "不是年报"
    wb.save(plain)
    for client in CLIENTS:
        actions = post(server, "draft", plain, client)
        assert [a["func"] for a in actions] == ["alert"] and "不是政府信息公开工作年度报告模板" in actions[0]["args"][0]


@pytest.mark.parametrize("start", [s for s in FORMULA_STARTS if s.strip()])
def test_a_narrative_that_starts_like_a_formula_is_written_as_text(server: str, tmp_path: Path, start: str) -> None:
    """The 生成数据段落 door keeps text text: a narrative typed as “=…”, “+…”, “-…” or “@…” is
    written with the text flag (a leading tab or CR never reaches it: the reader trims them)."""
    narrative = start + "1+1 全年工作有序推进。"
    path = write_overview(UNIT, tmp_path / "risky.xlsx", narrative)
    actions = post(server, "draft_apply", path, "VBA")
    (write,) = writes(actions)
    assert write["values"][0][0].startswith("'" + narrative + "\n")
    out = tmp_path / "out.xlsx"
    apply_actions(path, actions, out, client="VBA")
    sheet, ref = overview_cell(out)
    cell = openpyxl.load_workbook(out)[sheet][ref]
    assert cell.data_type == "s" and cell.quotePrefix and cell.value.startswith(narrative + "\n")


def test_ribbon_task_pane_and_scripts_offer_the_button(server: str) -> None:
    with urlopen(server + "/manifest") as r:
        manifest = r.read().decode("utf-8")
    control = re.search(r'<Control xsi:type="Button" id="Nianbao.Draft">.*?</Control>', manifest, re.DOTALL).group(0)
    assert "<FunctionName>nbDraft</FunctionName>" in control and 'DefaultValue="生成数据段落"' in manifest
    ribbon = (ROOT / "addin" / "server" / "static" / "js" / "ribbon.js").read_text(encoding="utf-8")
    assert 'nbDraft: "draft"' in ribbon
    with urlopen(server + "/taskpane.html") as r:
        assert re.search(r'<button xw-click="draft"[^>]*>生成数据段落</button>', r.read().decode("utf-8"))
    with urlopen(server + "/xlwings/custom-scripts-meta.json") as r:
        assert {"draft", "draft_apply"} <= {m["function_name"] for m in json.load(r)}


def test_only_a_yes_in_the_task_pane_writes(server: str, tmp_path: Path) -> None:
    """The served nianbao.js in headless Chromium (Office.js and the xlwings client stubbed, as they
    only run inside Excel): the question's callback runs draft_apply on “yes” and nothing on “no”."""
    browser = find_browser()
    if browser is None:
        pytest.skip(NO_BROWSER)
    page = (f'<html><head><base href="{server}/"><script>{STUB}</script></head><body>'
            f'<script src="{server}/static/js/nianbao.js"></script><script>{DRIVER}</script></body></html>')
    (tmp_path / "pane.html").write_text(page, encoding="utf-8")
    done = headless_dom(browser, tmp_path / "pane.html", tmp_path / "profile")
    state = json.loads(html.unescape(re.search(r'data-nb="([^"]*)"', done.stdout).group(1)))
    assert state["errors"] == []
    assert state["runs"] == [["no", []], ["yes", ["draft_apply"]]]


STUB = """
window.__nb = {errors: [], runs: [], calls: []};
window.addEventListener("error", (e) => __nb.errors.push(String(e.message)));
window.addEventListener("unhandledrejection", (e) => __nb.errors.push(String(e.reason)));
window.Office = { context: { requirements: { isSetSupported: () => true } }, onReady: async () => ({}) };
window.xlwings = { runPython: async (options) => { __nb.calls.push(options.scriptName); } };
"""

DRIVER = """
window.addEventListener("load", async () => {
  try {
    for (const answer of ["no", "yes"]) {
      __nb.calls = [];
      await globalThis.callbacks.nbDraftOverview(answer);
      __nb.runs.push([answer, __nb.calls]);
    }
  } catch (error) {
    __nb.errors.push(String(error));
  }
  document.body.setAttribute("data-nb", JSON.stringify(__nb));
});
"""
