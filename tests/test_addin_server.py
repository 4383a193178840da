"""The add-in through the real server: ``nianbao serve`` (xlwings Server runtime) on loopback,
payloads built from real workbooks for both clients, answers applied back onto the files and
read with openpyxl, and compared with what ``nianbao validate --json`` says about the same file.

Why: this is the clerk's click without Excel — file → payload → HTTP → actions → file. The
LibreOffice loop plays Excel's part of recalculating the SUM formulas between clicks.
"""

from __future__ import annotations

import concurrent.futures
import html
import json
import random
import re
import shutil
import subprocess
import threading
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from addin_support import (NIANBAO, NO_BROWSER, REPORT_SHEETS, fills, find_browser, range_cells, render_taskpane,
                           require_xlwings_server, running_server)
from openpyxl.cell.cell import MergedCell
from openpyxl.utils import get_column_letter

import addin.excel.core as xlcore
from addin.excel.actions import apply_actions, unsupported_actions
from addin.excel.payload import build_payload
from checks import validate_report
from workbook.build import RESULTS_HEADER, write_report
from workbook.layout import RESULTS_SHEET, layout_for
from workbook.read import read_report
from workbook.report import derive_totals
from workbook.samples import MISTAKES, county_units, fake_report

require_xlwings_server()

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "samples" / "宁海县交通运输局2020年政府信息公开工作年度报告.xlsx"
CLIENTS = ["VBA", "Office.js"]
#: (unit index, report year, mistakes): a 2021-edition and a 2019-edition unit of the sample county.
UNITS = {"unit2021": (2, 2026, frozenset({"imbalance", "blanks", "placeholder", "fullwidth", "negative", "text_mismatch"})),
         "unit2019": (6, 2020, frozenset({"rules_township", "token_problems", "blanks", "fullwidth", "placeholder"}))}
SEED_NO = 11





def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*NIANBAO, *args], capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``nianbao serve`` in a subprocess; the licence key comes from a config file, not the env."""
    root = tmp_path_factory.mktemp("serve")
    # an unknown script is answered 500 by xlwings-server itself, which logs its own traceback
    with running_server(root, clean_log=False) as url:
        yield url


def post(url: str, script: str, payload: dict[str, Any]) -> dict[str, Any]:
    req = urllib.request.Request(f"{url}/xlwings/custom-scripts-call/{script}", data=json.dumps(payload).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        assert r.status == 200
        return json.load(r)


def correct_report(name: str) -> Any:
    index, year, _ = UNITS[name]
    return fake_report(county_units(2026)[index], year, SEED_NO, frozenset())


@pytest.fixture(scope="module")
def workbooks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("books")
    out = {"seed": Path(shutil.copy(SEED, root / SEED.name))}
    for name, (index, year, mistakes) in UNITS.items():
        unit = county_units(2026)[index]
        out[name] = write_report(fake_report(unit, year, SEED_NO, mistakes), root / f"{unit.name}.xlsx")
    return out


def cli_findings(paths: list[Path]) -> dict[str, list[dict[str, Any]]]:
    """What ``nianbao validate --json`` reports, per file.

    The JSON names each finding's anchor cell; the cells a rule involves (R3.1 marks both sides
    of its equation) are ``Finding.cells``. Until the JSON carries ``cells``, they are taken from
    the checks run on the file in process, matched by rule, sheet and anchor.
    """
    done = cli("validate", "--json", *map(str, paths))
    assert done.returncode in (0, 1), done.stderr
    out = {Path(f["path"]).name: f["findings"] for f in json.loads(done.stdout)["files"]}
    for path in paths:
        involved = {(f.rule, f.sheet, f.cell): f.cells for f in validate_report(read_report(path))}
        for f in out[path.name]:
            f.setdefault("cells", list(involved[(f["rule"], f["sheet"], f["cell"])]))
    return out


@pytest.fixture(scope="module")
def expected(workbooks: dict[str, Path]) -> dict[str, list[dict[str, Any]]]:
    return cli_findings(list(workbooks.values()))


def cells_of(finding: dict[str, Any]) -> list[str]:
    """A finding's cells: ``cells`` when the JSON carries it, else its "E29" / "D10:J10" / "E10,G10"."""
    if finding.get("cells"):
        return list(finding["cells"])
    return range_cells(finding["cell"])


def expected_marks(findings: list[dict[str, Any]]) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    hard = {(f["sheet"], c) for f in findings if f["severity"] == "hard" for c in cells_of(f)}
    soft = {(f["sheet"], c) for f in findings if f["severity"] == "soft" for c in cells_of(f)} - hard
    return hard, soft




def painted(before: dict[tuple[str, str], str | None], after: dict[tuple[str, str], str | None],
            ) -> tuple[set[tuple[str, str]], set[tuple[str, str]], dict[tuple[str, str], tuple[Any, Any]]]:
    f = xlcore.template_fills()
    red = {k for k, v in after.items() if v == f.hard}
    yellow = {k for k, v in after.items() if v == f.soft}
    changed = {k: (before.get(k), v) for k, v in after.items() if before.get(k) != v}
    return red, yellow, changed


def result_rows(path: Path) -> list[list[Any]]:
    ws = openpyxl.load_workbook(path)[RESULTS_SHEET]
    assert [c.value for c in ws[1]][:len(RESULTS_HEADER)] == list(RESULTS_HEADER)
    return [[c.value for c in row] for row in ws.iter_rows(min_row=2) if any(c.value is not None for c in row)]


def assert_writes_allowed(path: Path, payload: dict[str, Any], actions: list[dict[str, Any]]) -> None:
    """Values only into unlocked cells or unprotected sheets; fills only where formatting is allowed."""
    wb = openpyxl.load_workbook(path)
    for a in actions:
        if a["sheet_position"] is None or a["func"] in ("activateSheet",):
            continue
        ws = wb[payload["sheets"][a["sheet_position"]]["name"]]
        if not ws.protection.sheet:
            continue
        if a["func"] == "setRangeColor":
            assert not ws.protection.formatCells, ws.title
            continue
        if a["func"] in ("addNote", "setNoteText", "deleteNote"):
            assert not ws.protection.objects, f"{ws.title}: notes on a sheet whose objects are protected"
            continue
        assert a["func"] == "setValues", a["func"]
        for i, row in enumerate(a["values"]):
            for j, _ in enumerate(row):
                cell = ws.cell(a["start_row"] + 1 + i, a["start_column"] + 1 + j)
                assert not cell.protection.locked, f"{ws.title}!{cell.coordinate} is locked"


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("name", ["seed", "unit2021", "unit2019"])
def test_validate_marks_exactly_what_nianbao_validate_reports(server: str, workbooks: dict[str, Path],
                                                             expected: dict[str, list[dict[str, Any]]],
                                                             tmp_path: Path, name: str, client: str) -> None:
    path = workbooks[name]
    findings = expected[path.name]
    payload = build_payload(path, client)
    actions = post(server, "validate", payload)["actions"]
    assert unsupported_actions(actions, client) == []
    assert_writes_allowed(path, payload, actions)
    out = tmp_path / "marked.xlsx"
    result = apply_actions(path, actions, out, client=client)

    hard, soft = expected_marks(findings)
    assert hard and soft
    red, yellow, changed = painted(fills(path), fills(out))
    assert red == hard
    assert yellow == soft
    others = {k: v for k, v in changed.items() if k not in hard | soft}
    if client == "Office.js":
        assert others == {}
    else:  # VBA cannot clear a fill: cells without one are painted white, nothing else changes
        assert set(others.values()) <= {(None, xlcore.WHITE)}

    rows = result_rows(out)
    col = {h: i for i, h in enumerate(RESULTS_HEADER)}
    assert [(r[col["规则"]], r[col["位置"]]) for r in rows] == [(f["rule"], f"{f['sheet']}!{f['cell']}") for f in findings]
    assert [r[col["问题说明"]] for r in rows] == [f["message"] for f in findings]
    ws = openpyxl.load_workbook(out)[RESULTS_SHEET]
    links = [ws.cell(2 + i, col["位置"] + 1).hyperlink for i in range(len(rows))]
    if client == "VBA":
        assert all(link is not None and f["sheet"] in link.target for link, f in zip(links, findings))
    n_hard = sum(f["severity"] == "hard" for f in findings)
    (alert,) = result.alerts
    unit = read_report(path).unit
    assert alert.prompt.startswith(unit) and f"{n_hard} 处错误" in alert.prompt
    assert f"{len(findings) - n_hard} 处提示" in alert.prompt


def test_twenty_concurrent_clicks_each_get_their_own_answer(server: str, tmp_path: Path) -> None:
    rng = random.Random(20)
    units = county_units(2026, n=20)
    paths = [write_report(fake_report(u, 2026, 5, frozenset(rng.sample(MISTAKES, 3))), tmp_path / f"{u.name}.xlsx")
             for u in units]
    findings = cli_findings(paths)
    payloads = [build_payload(p, CLIENTS[i % 2]) for i, p in enumerate(paths)]
    barrier = threading.Barrier(len(paths))

    def click(i: int) -> dict[str, Any]:
        barrier.wait()
        return post(server, "validate", payloads[i])

    with concurrent.futures.ThreadPoolExecutor(len(paths)) as pool:
        answers = list(pool.map(click, range(len(paths))))
    for unit, path, payload, answer in zip(units, paths, payloads, answers):
        alerts = [a["args"][0] for a in answer["actions"] if a["func"] == "alert"]
        assert len(alerts) == 1 and alerts[0].startswith(unit.name + "：")
        assert not any(other.name + "：" in alerts[0] for other in units if other is not unit)
        hard, soft = expected_marks(findings[path.name])
        red, yellow = marks_in_actions(payload, answer["actions"], covered_by_merges(path))
        assert (red, yellow) == (hard, soft), unit.name
    assert len({u.name for u in units}) == 20


def covered_by_merges(path: Path) -> set[tuple[str, str]]:
    """Cells hidden under a merged area's top-left cell (a fill there is not seen)."""
    wb = openpyxl.load_workbook(path)
    return {(name, c.coordinate) for name in REPORT_SHEETS for row in wb[name].iter_rows() for c in row
            if isinstance(c, MergedCell)}


def marks_in_actions(payload: dict[str, Any], actions: list[dict[str, Any]],
                     hidden: set[tuple[str, str]]) -> tuple[set[Any], set[Any]]:
    """The cells an answer paints red and yellow, read from its setRangeColor actions."""
    final: dict[tuple[str, str], Any] = {}
    for a in actions:
        sheet = payload["sheets"][a["sheet_position"]]["name"] if a["sheet_position"] is not None else ""
        if a["func"] != "setRangeColor" or sheet not in REPORT_SHEETS:
            continue
        for r in range(a["start_row"], a["start_row"] + a["row_count"]):
            for c in range(a["start_column"], a["start_column"] + a["column_count"]):
                final[(sheet, f"{get_column_letter(c + 1)}{r + 1}")] = a["args"][0]
    f = xlcore.template_fills()
    return ({k for k, v in final.items() if v == f.hard} - hidden, {k for k, v in final.items() if v == f.soft} - hidden)


def test_unknown_script_and_wrong_client_version_are_refused(server: str, workbooks: dict[str, Path]) -> None:
    payload = build_payload(workbooks["unit2021"], "VBA")
    with pytest.raises(urllib.error.HTTPError) as err:
        post(server, "no_such_button", payload)
    assert err.value.code == 500
    payload["version"] = "0.0.1"
    with pytest.raises(urllib.error.HTTPError) as err:
        post(server, "validate", payload)
    assert err.value.code == 400 and "version" in err.value.read().decode()


def test_manifest_is_well_formed_complete_and_https(server: str) -> None:
    """Microsoft's validator needs its web service (unreachable offline) and no XSD ships in npm:
    check what the schema and the store rules require that we can check here."""
    req = urllib.request.Request(server + "/manifest", headers={"X-Forwarded-Proto": "https"})
    with urllib.request.urlopen(req) as r:
        text = r.read().decode("utf-8")
    root = ET.fromstring(text)
    ns = {"o": "http://schemas.microsoft.com/office/appforoffice/1.1",
          "v": "http://schemas.microsoft.com/office/taskpaneappversionoverrides",
          "bt": "http://schemas.microsoft.com/office/officeappbasictypes/1.0"}
    order = ["Id", "Version", "ProviderName", "DefaultLocale", "DisplayName", "Description", "IconUrl",
             "HighResolutionIconUrl", "SupportUrl", "AppDomains", "Hosts", "Requirements", "DefaultSettings",
             "Permissions", "VersionOverrides"]
    assert [el.tag.split("}")[1] for el in root] == order  # the schema's sequence
    assert re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", root.findtext("o:Id", namespaces=ns) or "")
    assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+", root.findtext("o:Version", namespaces=ns) or "")
    urls = re.findall(r'(?:DefaultValue="|<AppDomain>)(https?://[^"<]+)', text)
    assert urls and all(u.startswith("https://") for u in urls)
    resources: dict[str, str] = {}
    for kind in ("Images", "Urls", "ShortStrings", "LongStrings"):
        for el in root.iterfind(f".//bt:{kind}/*", ns):
            assert el.get("id") not in resources, el.get("id")
            resources[el.get("id")] = kind
            limit = {"ShortStrings": 125, "LongStrings": 250}.get(kind)
            assert limit is None or len(el.get("DefaultValue", "")) <= limit
    wanted = {"Label": "ShortStrings", "Title": "ShortStrings", "Description": "LongStrings", "Image": "Images",
              "SourceLocation": "Urls", "FunctionFile": "Urls", "Runtime": "Urls"}
    for el in root.iter():
        if el.get("resid"):
            assert resources.get(el.get("resid")) == wanted[el.tag.split("}")[1]], el.get("resid")
    ids = [el.get("id") for el in root.iter() if el.get("id") and el.tag.split("}")[1] in ("CustomTab", "Group", "Control")]
    assert len(ids) == len(set(ids))
    labels = {el.get("id"): el.get("DefaultValue") for el in root.iterfind(".//bt:ShortStrings/*", ns)}
    assert {"政务公开年报", "校验", "计算合计", "清除标记"} <= set(labels.values())
    functions = [el.text for el in root.iter(f"{{{ns['v']}}}FunctionName")]
    ribbon = (ROOT / "addin" / "server" / "static" / "js" / "ribbon.js").read_text(encoding="utf-8")
    bound = dict(re.findall(r"(\w+): \"(\w+)\"", ribbon))
    with urllib.request.urlopen(server + "/xlwings/custom-scripts-meta.json") as r:
        scripts = {m["function_name"] for m in json.load(r)}
    assert functions and all(bound.get(fn) in scripts for fn in functions)
    assert {"validate", "fill_totals", "fill_zeros", "clear_marks"} <= scripts


def test_task_pane_lists_a_real_answer_in_headless_chromium(server: str, workbooks: dict[str, Path],
                                                           expected: dict[str, list[dict[str, Any]]],
                                                           tmp_path: Path) -> None:
    """The served task pane with its own script, in a real browser. Office.js and the xlwings
    client only run inside Excel, so their scripts are taken out and ``Office``/``Excel`` are
    stubs that record what the pane asks Excel to do; the answer is a real server answer."""
    browser = find_browser()
    if browser is None:
        pytest.skip(NO_BROWSER)
    path = workbooks["unit2021"]
    answer = post(server, "validate", build_payload(path, "Office.js"))
    dom, state = render_taskpane(browser, server, answer, STUB, DRIVER, tmp_path)
    assert state["errors"] == []
    findings = expected[path.name]
    text = html.unescape(dom)
    assert dom.count('class="list-group-item list-group-item-action nb-finding') == len(findings)
    assert all(f["message"] in text for f in findings)
    assert f"{read_report(path).unit}：发现" in text
    first = findings[0]
    assert state["selected"] == [f"{first['sheet']}!{cells_of(first)[0]}"]
    assert [link[3] for link in state["links"]] == [f"{f['sheet']}!{f['cell']}" for f in findings]
    assert state["links"][0][:3] == [RESULTS_SHEET, "C2", f"'{first['sheet']}'!{cells_of(first)[0]}"]


STUB = """
window.__nb = {errors: [], selected: [], links: []};
window.addEventListener("error", (e) => __nb.errors.push(String(e.message)));
window.addEventListener("unhandledrejection", (e) => __nb.errors.push(String(e.reason)));
const nbRange = (sheet, address) => ({
  select() { __nb.selected.push(sheet + "!" + address); },
  set hyperlink(h) { __nb.links.push([sheet, address, h.documentReference, h.textToDisplay]); },
});
const nbSheet = (name) => ({ isNullObject: false, activate() {}, getRange: (a) => nbRange(name, a) });
window.__nbContext = { workbook: { worksheets: { getItem: nbSheet, getItemOrNullObject: nbSheet } }, sync: async () => {} };
window.Office = { context: { requirements: { isSetSupported: () => true } },
  addin: { showAsTaskpane: async () => { __nb.shown = true; } }, onReady: async () => ({ host: "Excel" }) };
window.Excel = { run: async (callback) => callback(window.__nbContext) };
"""

DRIVER = """
window.addEventListener("load", async () => {
  try {
    const answer = JSON.parse(document.getElementById("answer").textContent);
    for (const action of answer.actions) {
      if (action.func === "runMacro") {
        await globalThis.callbacks[action.args[0]](window.__nbContext, ...action.args.slice(1));
      }
    }
    document.querySelector("#nb-findings li").click();
    await new Promise((resolve) => setTimeout(resolve, 50));
  } catch (error) {
    __nb.errors.push(String(error));
  }
  document.body.setAttribute("data-nb", JSON.stringify(__nb));
});
"""


def fix_inputs(name: str, source: Path, target: Path) -> None:
    """What the clerk does by hand: put the right numbers and texts in (openpyxl stands in for
    typing). The seed's totals are stored numbers, so they are written too."""
    wb = openpyxl.load_workbook(source)
    if name == "seed":
        report = read_report(SEED)
        numbers = report.numbers
        numbers.update(derive_totals(report.edition, numbers))
        lay = layout_for(report.edition_key)
        for cid, value in numbers.items():
            r, c = lay.pos(cid)
            wb[lay.sheet_of(cid)].cell(r + 1, c + 1).value = value
    else:
        report = correct_report(name)
        lay = layout_for(report.edition_key)
        for cell in report.edition.input_cells:
            r, c = lay.pos(cell.id)
            wb[lay.sheet_of(cell.id)].cell(r + 1, c + 1).value = report.raw[cell.id]
        cover = wb[report.edition.cover_sheet]
        for key, (r, c) in lay.cover.fields.items():
            cover.cell(r + 1, c + 1).value = report.cover.get(key, "")
        for key, (r, c) in lay.cover.texts.items():
            cover.cell(r + 1, c + 1).value = report.texts.get(key, "")
    wb.save(target)


@pytest.mark.office
@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("name", ["seed", "unit2021", "unit2019"])
def test_click_loop_ends_clean_and_clear_marks_restores_fills(server: str, workbooks: dict[str, Path],
                                                              tmp_path: Path, name: str, client: str) -> None:
    """校验 → (Excel recalculates) → 计算合计 with 0 for blanks → the clerk fixes the inputs →
    校验 says 校验通过; and 清除标记 on the marked workbook gives back the template's fills."""
    if shutil.which("soffice") is None:
        pytest.skip("未安装 LibreOffice（soffice），无法代替 Excel 重新计算公式")
    from workbook.office import recalculate

    original = workbooks[name]

    def click(script: str, path: Path, out: Path) -> Any:
        actions = post(server, script, build_payload(path, client))["actions"]
        assert unsupported_actions(actions, client) == []
        return apply_actions(path, actions, out, client=client)

    click("validate", original, tmp_path / "1.xlsx")
    marked = recalculate(tmp_path / "1.xlsx", tmp_path / "excel1")
    filled = click("fill_zeros", marked, tmp_path / "2.xlsx")
    assert "填为 0" in filled.alerts[0].prompt
    fix_inputs(name, tmp_path / "2.xlsx", tmp_path / "3.xlsx")
    fixed = recalculate(tmp_path / "3.xlsx", tmp_path / "excel3")
    assert validate_report(read_report(fixed)) == []  # what nianbao validate would say
    again = click("validate", fixed, tmp_path / "4.xlsx")
    assert "校验通过" in again.alerts[0].prompt
    red, yellow, _ = painted({}, fills(tmp_path / "4.xlsx"))
    assert red == yellow == set() and result_rows(tmp_path / "4.xlsx") == []

    cleared = click("clear_marks", marked, tmp_path / "5.xlsx")
    assert "已清除" in cleared.alerts[0].prompt
    before, after = fills(original), fills(tmp_path / "5.xlsx")
    differ = {k: (before.get(k), v) for k, v in after.items() if before.get(k) != v}
    if client == "VBA":  # no "no fill" for VBA: white instead
        assert set(differ.values()) <= {(None, xlcore.WHITE)}
    else:
        assert differ == {}
    assert result_rows(tmp_path / "5.xlsx") == []
