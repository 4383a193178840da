"""Hostile workbooks never crash, hang or exhaust the command line or the server (issue 10, item 2).

Every hostile file is made here, from a real unit workbook, small on disk: one cell at
``XFD1048576`` (the 29 KB file that made the reader ask for 512 GiB), one at ``AZ1048576``, a
quarter of a million rows, cells placed without references, a cell hidden behind a fake end of
the cells (in a comment, in a processing instruction), prefixed cells, 300 MB of whitespace declared honestly and the same declared as 9 KB,
a shared-strings bomb, thousands of parts, hundreds of sheets. Whatever reads them runs in a subprocess with an
address-space limit, so that a regression fails a test instead of taking pytest down; memory is
the peak resident size of the command and its workers, as the kernel counts it.

The second line — worker processes with a memory and a time limit — is tested with files that
pass every check but need more memory than a worker is given (``NIANBAO_READ_MEMORY_MB``), and
with work that aborts, hangs, raises or overallocates, in real processes, from the main thread
and from a web server's thread.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import struct
import subprocess
import sys
import threading
import time
import unicodedata
import urllib.request
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterator
from xml.etree import ElementTree

import openpyxl
import pytest
from python_calamine import CalamineWorkbook

from addin_support import NIANBAO
from workbook.build import write_report
from workbook.isolate import Budget, Failed, run_chunks, tick
from workbook.layout import a1, layout_for
from workbook.read import DAMAGED, ReadError, read_report
from workbook.report import Member, Report
from workbook.samples import county_units, fake_report
from workbook.spec import load_edition

ROOT = Path(__file__).resolve().parents[1]
YEAR = 2026
ED = load_edition("2021")
LAY = layout_for("2021")
GIB = 1024 ** 3
MIB = 1024 ** 2
COUNTY = "青禾县人民政府"
TABLE = ED.table("part3").sheet  # 三、依申请公开
SECRET = "secret-" + "cell-text"  # built at run time: a traceback's source line must not hold it
CHILD_LIMIT = 4 * GIB  # address space of a subprocess: far above a correct run, far below 512 GiB


# ------------------------------------------------------------------------------------------
# Building workbooks
# ------------------------------------------------------------------------------------------

def unit_file(folder: Path, index: int, seed: int = 7) -> tuple[Path, Report]:
    """A real unit workbook (the project's writer), and the report it was written from."""
    unit = county_units(seed, index + 1)[index]
    report = fake_report(unit, YEAR, seed)
    folder.mkdir(parents=True, exist_ok=True)
    return write_report(report, folder / f"单位{index:02d}.xlsx"), report


def sheet_part(path: Path, sheet: str) -> str:
    """The part holding ``sheet``, from workbook.xml and its relationships (stdlib parser)."""
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
          "p": "http://schemas.openxmlformats.org/package/2006/relationships"}
    rid = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
    with zipfile.ZipFile(path) as z:
        rels = {r.get("Id"): r.get("Target") for r in ElementTree.fromstring(z.read("xl/_rels/workbook.xml.rels")).iterfind("p:Relationship", ns)}
        for s in ElementTree.fromstring(z.read("xl/workbook.xml")).iterfind("m:sheets/m:sheet", ns):
            if s.get("name") == sheet:
                return "xl/" + rels[s.get(rid)].lstrip("/").removeprefix("xl/")
    raise AssertionError(sheet)


def repack(src: Path, dst: Path, edit: dict[str, Callable[[bytes], bytes]] | None = None,
           add: dict[str, bytes] | None = None, stream: dict[str, Iterator[bytes]] | None = None,
           stored: bool = False) -> Path:
    """A copy of ``src`` with parts changed (``edit``), added (``add``) or replaced by a stream of
    pieces written without ever holding the whole part (``stream``)."""
    method = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", method) as zout:
        for item in zin.infolist():
            if stream and item.filename in stream:
                info = zipfile.ZipInfo(item.filename, date_time=item.date_time)
                info.compress_type = zipfile.ZIP_DEFLATED
                with zout.open(info, "w") as fh:
                    for piece in stream[item.filename]:
                        fh.write(piece)
                continue
            data = zin.read(item.filename)
            if edit and item.filename in edit:
                data = edit[item.filename](data)
            zout.writestr(item.filename, data, compress_type=zipfile.ZIP_DEFLATED)
        for name, data in (add or {}).items():
            zout.writestr(name, data, compress_type=method)
    return dst


def before_end(xml: bytes) -> Callable[[bytes], bytes]:
    """An edit putting ``xml`` just before the end of a sheet's cells."""
    return lambda data: data.replace(b"</sheetData>", xml + b"</sheetData>", 1)


def one_cell(ref: str) -> bytes:
    row = re.sub(r"\D", "", ref)
    return f'<row r="{row}"><c r="{ref}" t="inlineStr"><is><t>x</t></is></c></row>'.encode()


def whitespace_sheet(path: Path, sheet: str, megabytes: int) -> Iterator[bytes]:
    """A sheet's XML with ``megabytes`` of spaces among its cells, a piece at a time."""
    with zipfile.ZipFile(path) as z:
        head, tail = z.read(sheet).split(b"</sheetData>", 1)
    yield head
    block = b" " * MIB
    for _ in range(megabytes):
        yield block
    yield b"</sheetData>" + tail


def understate(path: Path, part: str, size: int) -> Path:
    """Make the zip directory (and the local header) declare ``size`` uncompressed bytes for
    ``part``: a bomb whose directory lies."""
    data = bytearray(path.read_bytes())
    name = part.encode()
    with zipfile.ZipFile(path) as z:
        info = z.getinfo(part)
    struct.pack_into("<I", data, info.header_offset + 22, size)
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        n = struct.unpack_from("<H", data, at + 28)[0]
        if bytes(data[at + 46:at + 46 + n]) == name:
            struct.pack_into("<I", data, at + 24, size)
        at = data.find(b"PK\x01\x02", at + 4)
    path.write_bytes(bytes(data))
    return path


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Report]:
    return unit_file(tmp_path_factory.mktemp("base"), 0)


def hostile_files(folder: Path, src: Path) -> dict[str, tuple[Path, str]]:
    """Every kind of hostile file: name → (path, what its reason must say)."""
    folder.mkdir(parents=True, exist_ok=True)
    meta, table = sheet_part(src, "_meta"), sheet_part(src, TABLE)
    too_big = "解压后过大"
    area = "数据区域过大"
    rows = b"".join(b'<row r="%d"><c r="A%d"><v>1</v></c></row>' % (i, i) for i in range(100, 250_100))
    made = {
        "meta_XFD1048576": (repack(src, folder / "meta_XFD1048576.xlsx", {meta: before_end(one_cell("XFD1048576"))}), area),
        "table_AZ1048576": (repack(src, folder / "table_AZ1048576.xlsx", {table: before_end(one_cell("AZ1048576"))}), area),
        "long_sheet": (repack(src, folder / "long_sheet.xlsx", {table: before_end(rows)}), area),
        "no_references": (repack(src, folder / "no_references.xlsx", {meta: before_end(
            b'<row r="999">' + b"<c><v>1</v></c>" * 3000 + b"</row>" + b"<row><c><v>1</v></c></row>" * 3000)}), area),
        "hidden_end": (repack(src, folder / "hidden_end.xlsx", {meta: before_end(
            b"<!-- </sheetData> -->" + one_cell("XFD1048576"))}), area),
        "hidden_end_pi": (repack(src, folder / "hidden_end_pi.xlsx", {meta: before_end(
            b"<?x </sheetData> ?>" + one_cell("XFD1048576"))}), area),
        "prefixed": (repack(src, folder / "prefixed.xlsx", {meta: before_end(
            b'<x:row xmlns:x="urn:x" r="1048576"><x:c r="XFD1048576"><x:v>1</x:v></x:c></x:row>')}), area),
        "spaces_honest": (repack(src, folder / "spaces_honest.xlsx", stream={meta: whitespace_sheet(src, meta, 300)}), too_big),
        "strings_bomb": (repack(src, folder / "strings_bomb.xlsx", {"xl/sharedStrings.xml": lambda d: d.replace(
            b"</sst>", b"<si><t></t></si>" * 3_000_000 + b"</sst>")}), too_big),
        "many_parts": (repack(src, folder / "many_parts.xlsx", add={f"customXml/item{i}.xml": b"<a/>" for i in range(5000)},
                              stored=True), "部件"),
        "many_sheets": (repack(src, folder / "many_sheets.xlsx", {"xl/workbook.xml": lambda d: d.replace(b"</sheets>", b"".join(
            b'<sheet name="s%d" sheetId="%d" r:id="rId1"/>' % (i, 1000 + i) for i in range(300)) + b"</sheets>")}),
            "个工作表"),
    }
    liar = repack(src, folder / "spaces_liar.xlsx", stream={meta: whitespace_sheet(src, meta, 300)})
    made["spaces_liar"] = (understate(liar, meta, 9000), too_big)
    return made


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory, base: tuple[Path, Report]) -> dict[str, tuple[Path, str]]:
    return hostile_files(tmp_path_factory.mktemp("hostile"), base[0])


# ------------------------------------------------------------------------------------------
# Running code in a subprocess with an address-space limit
# ------------------------------------------------------------------------------------------

def _limit(limit: int) -> Callable[[], None]:
    def apply() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return apply


MEASURE = """
import json, resource, subprocess, sys
limit, out = int(sys.argv[1]), sys.argv[2]
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
done = subprocess.run(sys.argv[3:])
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
open(out, "w").write(json.dumps({"peak": peak}))
sys.exit(done.returncode)
"""


def run_measured(args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 600,
                 limit: int = CHILD_LIMIT) -> tuple[subprocess.CompletedProcess[str], int]:
    """``args`` under an address-space limit; (the finished process, peak resident bytes of it and
    of every process it started — the largest, as the kernel's RUSAGE_CHILDREN reports)."""
    out = cwd / f".peak-{uuid.uuid4().hex}.json"
    proc = subprocess.run([sys.executable, "-c", MEASURE, str(limit), str(out), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})}, check=False)
    peak = json.loads(out.read_text())["peak"] if out.exists() else -1
    return proc, peak


READ_ONE = """
import json, sys
from workbook.read import ReadError, read_report
try:
    rep = read_report(sys.argv[1])
    print(json.dumps({"unit": rep.unit}))
except ReadError as exc:
    print(json.dumps({"code": exc.code, "reason": exc.reason}, ensure_ascii=False))
"""


def read_in_child(path: Path) -> dict[str, Any]:
    """``read_report`` in a subprocess limited to 4 GiB of address space and two minutes."""
    proc = subprocess.run([sys.executable, "-c", READ_ONE, str(path)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, preexec_fn=_limit(CHILD_LIMIT), check=False)
    assert proc.returncode == 0, f"the reader died (exit {proc.returncode}): {proc.stderr[-2000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def chinese(text: str) -> bool:
    """A reason a clerk can read: Chinese, and no exception or traceback text in it."""
    return bool(re.search(r"[\u4e00-\u9fff]", text)) and not re.search(r"Error|Exception|Traceback|failed|Panic", text)


# ------------------------------------------------------------------------------------------
# 1. The checks before the reader
# ------------------------------------------------------------------------------------------

KINDS = ["meta_XFD1048576", "table_AZ1048576", "long_sheet", "no_references", "hidden_end", "hidden_end_pi", "prefixed",
         "spaces_honest", "spaces_liar", "strings_bomb", "many_parts", "many_sheets"]


@pytest.mark.parametrize("kind", KINDS)
def test_each_hostile_file_is_refused_before_the_reader_allocates(hostile: dict[str, tuple[Path, str]], kind: str) -> None:
    path, says = hostile[kind]
    assert path.stat().st_size < 3 * MIB  # small on disk: the danger is in what it unpacks to
    got = read_in_child(path)
    assert got.get("code") == "abnormal", got
    assert says in got["reason"] and "不是正常的年报工作簿" in got["reason"] and chinese(got["reason"]), got


def test_the_refusal_names_the_sheet_and_how_far_it_reaches(hostile: dict[str, tuple[Path, str]]) -> None:
    got = read_in_child(hostile["meta_XFD1048576"][0])
    assert got["reason"] == "文件内容异常（“_meta”工作表的数据区域过大，延伸到 XFD1048576），不是正常的年报工作簿"
    got = read_in_child(hostile["table_AZ1048576"][0])
    assert f"“{TABLE}”工作表" in got["reason"] and "AZ1048576" in got["reason"]


def _inputs(report: Report) -> dict[str, Any]:
    return {c.id: report.raw.get(c.id) for c in ED.input_cells}


def _same_numbers(got: Report, want: Report) -> None:
    assert _inputs(got) == pytest.approx(_inputs(want))
    assert got.unit == want.unit


def test_good_files_from_other_programs_and_wide_sheets_are_read(base: tuple[Path, Report], tmp_path: Path) -> None:
    """Nothing a real program writes is refused: openpyxl's save, WPS-style dimension markers that
    are wrong in both directions, a note far to the side, a cell text holding markup in CDATA, a
    summary of 20,000 units (the largest sheet the reader turns into a grid)."""
    src, report = base
    table, meta = sheet_part(src, TABLE), sheet_part(src, "_meta")
    wb = openpyxl.load_workbook(src)
    wb.save(tmp_path / "openpyxl.xlsx")
    cases = {
        "openpyxl": tmp_path / "openpyxl.xlsx",
        "dimension_too_large": repack(src, tmp_path / "dim_large.xlsx", {table: lambda d: re.sub(
            rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:XFD1048576"/>', d)}),
        "dimension_too_small": repack(src, tmp_path / "dim_small.xlsx", {table: lambda d: re.sub(
            rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1"/>', d)}),
        "note_far_away": repack(src, tmp_path / "note.xlsx", {table: before_end(
            b'<row r="500"><c r="Z500" t="inlineStr"><is><t>' + "备注：数字已核实".encode() + b"</t></is></c></row>")}),
        "styled_far_cell": repack(src, tmp_path / "styled.xlsx", {meta: before_end(b'<row r="1048576"><c r="XFD1048576" s="0"/></row>')}),
        "cdata": repack(src, tmp_path / "cdata.xlsx", {meta: before_end(
            b'<row r="60"><c r="A60" t="inlineStr"><is><t><![CDATA[<c r="XFD1048576"><v>1</v></c>]]></t></is></c></row>')}),
    }
    for name, path in cases.items():
        _same_numbers(read_report(path), report)
    summary = Report("2021", cover=dict(report.cover), raw=dict(report.raw), source="summary", scope="all",
                     members=tuple(Member(f"青禾县第{i}单位", f"9133{i:014d}", f"{i:064x}") for i in range(20_000)))
    summary.cover["unit_name"] = COUNTY
    back = read_report(write_report(summary, tmp_path / "二万单位汇总.xlsx"))
    assert back.source == "summary" and len(back.members) == 20_000 and back.members[-1].name == "青禾县第19999单位"


@pytest.mark.office
def test_a_libreoffice_saved_unit_is_read(base: tuple[Path, Report], tmp_path: Path) -> None:
    soffice = shutil.which("soffice")
    if soffice is None:
        pytest.skip("未安装 LibreOffice（soffice）：apt-get install -y libreoffice-calc-nogui")
    src, report = base
    shutil.copy(src, tmp_path / "in.xlsx")
    subprocess.run([soffice, f"-env:UserInstallation=file://{tmp_path / 'profile'}", "--headless", "--convert-to",
                    "xlsx:Calc MS Excel 2007 XML", "--outdir", str(tmp_path / "out"), str(tmp_path / "in.xlsx")],
                   capture_output=True, timeout=180, check=False)
    _same_numbers(read_report(tmp_path / "out" / "in.xlsx"), report)


def test_an_unexpected_error_is_logged_without_the_files_contents(base: tuple[Path, Report], caplog: pytest.LogCaptureFixture,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug while reading (injected here) still reads as a Chinese reason, and is logged — its
    type and where it happened, not its message, which may quote the file."""
    import workbook.read as reader

    secret = "单元格内容：机密 " + "secret-cell-text"  # what a cell of the file might hold

    def buggy(*_: Any, **__: Any) -> Report:
        raise ValueError(secret)

    monkeypatch.setattr(reader, "report_from_grids", buggy)
    with caplog.at_level(logging.INFO, logger="workbook.read"), pytest.raises(ReadError) as err:
        read_report(base[0])
    assert err.value.reason == DAMAGED and err.value.code == "damaged"
    logged = [r for r in caplog.records if r.name == "workbook.read"]
    assert logged and logged[0].levelno >= logging.ERROR
    text = "\n".join(r.getMessage() for r in logged)
    assert "ValueError" in text and "buggy" in text and base[0].name in text
    assert "secret-cell-text" not in text and "机密" not in text


# ------------------------------------------------------------------------------------------
# 2. Worker processes: crashes, hangs, exceptions and memory, from any thread
# ------------------------------------------------------------------------------------------

def misbehave(items: list[str]) -> list[str]:
    """Work for the isolation tests: each item is read “as is”, except the misbehaving ones."""
    out = []
    for item in items:
        if item == "abort":
            os.abort()
        if item == "hang":
            time.sleep(3600)
        if item == "raise":
            raise KeyError(SECRET)
        if item == "hog":
            bytearray(8 * GIB)
        out.append(item.upper())
        tick()
    return out


def _outcomes(results: list[tuple[list[str], Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for items, outcome in results:
        if isinstance(outcome, Failed):
            assert len(items) == 1, (items, outcome)  # only the culprit gets the reason
            out[items[0]] = outcome
        else:
            out.update(zip(items, outcome))
    return out


def _run_misbehaving() -> tuple[dict[str, Any], float]:
    chunks = [["a", "abort", "b"], ["c", "hang", "d"], ["e", "raise", "f", "hog", "g"]]
    start = time.monotonic()
    results = run_chunks(misbehave, chunks, 2, budget=Budget(memory=1 * GIB, stall=3))
    return _outcomes(results), time.monotonic() - start


def _assert_isolated(got: dict[str, Any], seconds: float) -> None:
    assert {k: got[k] for k in "abcdefg"} == {k: k.upper() for k in "abcdefg"}
    assert got["abort"].kind == "crashed" and got["hang"].kind == "timeout"
    assert got["raise"].kind == "error" and got["hog"].kind == "memory"
    for k in ("abort", "hang", "raise", "hog"):
        assert got[k].reason.startswith("无法读取（") and chinese(got[k].reason)
    assert "3 秒" in got["hang"].reason
    assert seconds < 60  # a hang costs its time limit once (it is not retried)


def test_a_worker_that_aborts_hangs_raises_or_overallocates_costs_only_its_item() -> None:
    got, seconds = _run_misbehaving()
    _assert_isolated(got, seconds)


def test_isolation_holds_inside_a_web_servers_thread() -> None:
    """The server runs 汇总 in a thread of its pool, with other threads alive (no plain fork)."""
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, daemon=True)
    other.start()
    try:
        with ThreadPoolExecutor(1) as pool:
            got, seconds = pool.submit(_run_misbehaving).result(timeout=300)
    finally:
        stop.set()
    _assert_isolated(got, seconds)


def test_an_exception_in_a_worker_is_logged_without_its_message(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="workbook.isolate"):
        got = _outcomes(run_chunks(misbehave, [["x", "raise"]], 1, budget=Budget(stall=30)))
    assert got["x"] == "X" and got["raise"].kind == "error"
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "KeyError" in text and "misbehave" in text and "secret-cell-text" not in text


# ------------------------------------------------------------------------------------------
# 3. The command line and the server, with hostile files next to good units
# ------------------------------------------------------------------------------------------

def number(v: Any) -> float:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    text = unicodedata.normalize("NFKC", str(v or "")).strip()
    try:
        return float(text)
    except ValueError:
        assert text in ("", "-", "/", "无"), text
        return 0.0


def independent_sums(paths: list[Path]) -> dict[str, float]:
    """Every input cell summed over the files, read by python-calamine at the layout's positions."""
    out = {c.id: 0.0 for c in ED.input_cells}
    for p in paths:
        wb = CalamineWorkbook.from_path(str(p))
        for table in ED.tables:
            rows = wb.get_sheet_by_name(table.sheet).to_python()
            for cid, (r, c) in LAY.tables[table.key].cells.items():
                if cid in out:
                    out[cid] += number(rows[r][c] if r < len(rows) and c < len(rows[r]) else None)
    return out


def summary_sums(path: Path) -> dict[str, float]:
    return independent_sums([path])


def board_rows(path: Path) -> list[list[Any]]:
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_name("报送情况").to_python()


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory, hostile: dict[str, tuple[Path, str]]) -> dict[str, Any]:
    """A county inbox: five good units and every kind of hostile file, side by side."""
    root = tmp_path_factory.mktemp("inbox")
    folder = root / "收文"
    good = [unit_file(folder, i, seed=31)[0] for i in range(5)]
    for name, (path, _) in hostile.items():
        shutil.copy(path, folder / path.name)
    return {"root": root, "folder": folder, "good": good, "hostile": hostile}


def test_validate_reports_every_hostile_file_and_validates_the_units(inbox: dict[str, Any]) -> None:
    proc, peak = run_measured([*NIANBAO, "validate", "收文", "--json"], inbox["root"])
    assert proc.returncode == 2, proc.stderr[-3000:]  # 2: some files could not be read
    assert peak < 1 * GIB, f"peak resident {peak / MIB:.0f} MB"
    files = {Path(f["path"]).stem: f for f in json.loads(proc.stdout)["files"]}
    for name, (_, says) in inbox["hostile"].items():
        assert says in files[name]["error"] and chinese(files[name]["error"]), files[name]
    for path in inbox["good"]:
        assert not files[path.stem].get("error") and files[path.stem]["unit"]


def test_consolidate_reports_every_hostile_file_and_sums_the_units(inbox: dict[str, Any]) -> None:
    out = inbox["root"] / "汇总.xlsx"
    proc, peak = run_measured([*NIANBAO, "consolidate", "收文", "-o", str(out), "--name", COUNTY, "--year", str(YEAR)],
                              inbox["root"])
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]  # 1: files left out, none crashed the run
    assert peak < 1 * GIB, f"peak resident {peak / MIB:.0f} MB"
    assert "Traceback" not in proc.stderr
    said = re.sub(r"\s+", "", proc.stdout)
    for name, (path, says) in inbox["hostile"].items():
        assert f"无法读取：收文/{path.name}" in said and says in said, name
    assert summary_sums(out) == pytest.approx(independent_sums(inbox["good"]))
    board = [" ".join(str(v) for v in row) for row in board_rows(out)]
    for name, (path, says) in inbox["hostile"].items():
        assert any(path.name in row and says in row for row in board), name


@pytest.fixture(scope="module")
def heavy(tmp_path_factory: pytest.TempPathFactory, base: tuple[Path, Report]) -> Path:
    """A file within every check (its grid 100 columns by 20,000 rows, 2,000,000 cells) that still
    needs ~80 MB to read: more than a worker gets with ``NIANBAO_READ_MEMORY_MB=48``."""
    src = base[0]
    return repack(src, tmp_path_factory.mktemp("heavy") / "heavy.xlsx", {sheet_part(src, "_meta"): before_end(one_cell("CV20000"))})


TIGHT = {"NIANBAO_READ_MEMORY_MB": "48", "NIANBAO_READ_SECONDS": "20"}


def test_a_file_that_exhausts_its_worker_is_that_files_line(heavy: Path, tmp_path: Path) -> None:
    """The second line: a file no check refuses, but more than a worker may use. The command
    finishes, the file gets a Chinese reason, the units are validated."""
    folder = tmp_path / "收文"
    good = [unit_file(folder, i, seed=41)[0] for i in range(3)]
    shutil.copy(heavy, folder / heavy.name)
    assert read_report(heavy).unit  # no check refuses it: it is the worker's limit that acts
    proc, _ = run_measured([*NIANBAO, "validate", "收文", "--json"], tmp_path, env=TIGHT)
    assert proc.returncode == 2, proc.stderr[-3000:]
    files = {Path(f["path"]).name: f for f in json.loads(proc.stdout)["files"]}
    assert files[heavy.name].get("error") and chinese(files[heavy.name]["error"]), files[heavy.name]
    assert not any(files[p.name].get("error") for p in good)
    assert "memory allocation" not in proc.stderr and "backtrace" not in proc.stderr  # the worker's noise stays there


def test_consolidation_in_a_server_thread_survives_a_file_that_exhausts_its_worker(heavy: Path, tmp_path: Path,
                                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from addin.county.consolidate import ConsolidateOptions, consolidate

    folder = tmp_path / "收文"
    good = [unit_file(folder, i, seed=43)[0] for i in range(3)]
    shutil.copy(heavy, folder / heavy.name)
    for key, value in TIGHT.items():
        monkeypatch.setenv(key, value)
    stop = threading.Event()
    threading.Thread(target=stop.wait, daemon=True).start()
    try:
        with ThreadPoolExecutor(1) as pool:
            result = pool.submit(consolidate, [folder], tmp_path / "汇总.xlsx",
                                 ConsolidateOptions(year=YEAR, name=COUNTY)).result(timeout=300)
    finally:
        stop.set()
    (bad,) = [s for s in result.sources if Path(s.file).name == heavy.name]
    assert bad.error and chinese(bad.error) and bad.status != "summed"
    assert sorted(Path(s.file).name for s in result.included) == sorted(p.name for p in good)
    assert summary_sums(tmp_path / "汇总.xlsx") == pytest.approx(independent_sums(good))


# --- the server -------------------------------------------------------------------------------

def _multipart(paths: list[Path]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [(f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{p.name}"\r\n'
              "Content-Type: application/octet-stream\r\n\r\n").encode() + p.read_bytes() + b"\r\n" for p in paths]
    mtimes = json.dumps([int(p.stat().st_mtime * 1000) for p in paths])
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="mtimes"\r\n\r\n{mtimes}\r\n'.encode())
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def _consolidate_on_server(url: str, template: Path, files: list[Path]) -> dict[str, Any]:
    from addin.excel.payload import build_payload

    body, kind = _multipart(files)
    with urllib.request.urlopen(urllib.request.Request(f"{url}/nianbao/upload", data=body,
                                                       headers={"Content-Type": kind}), timeout=60) as r:
        batch = json.load(r)["batch"]
    payload = build_payload(template, "Office.js")
    payload["args"] = [batch]
    req = urllib.request.Request(f"{url}/xlwings/custom-scripts-call/consolidate", data=json.dumps(payload).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=300) as r:
        actions = json.load(r)["actions"]
    (macro,) = [a for a in actions if a["func"] == "runMacro"]
    return json.loads(macro["args"][1])


def test_the_server_survives_hostile_uploads_and_sums_the_units(hostile: dict[str, tuple[Path, str]], heavy: Path,
                                                                tmp_path: Path) -> None:
    """汇总 through the real server with the 29 KB file, a zip bomb and a file that exhausts its
    worker among the uploads: the answer lists each with its reason, the units are summed, and
    the server still answers the next click."""
    import importlib.util

    if importlib.util.find_spec("xlwings_server") is None:
        pytest.skip("xlwings-server 未安装（pip install xlwings-server==1.20.0），加载项的服务端测试无法运行")
    from addin_support import serving
    from workbook.build import write_template

    template = write_template(tmp_path / "青禾县汇总.xlsx", "2021", YEAR)
    (tmp_path / "serve").mkdir()
    good = [unit_file(tmp_path / "units", i, seed=47)[0] for i in range(3)]
    bad = [hostile["meta_XFD1048576"][0], hostile["spaces_honest"][0], heavy]
    with serving(tmp_path / "serve", TIGHT) as served:
        offer = _consolidate_on_server(served.url, template, [*good, *bad])
        with urllib.request.urlopen(served.url + offer["url"], timeout=60) as r:
            (tmp_path / "summary.xlsx").write_bytes(r.read())
        again = _consolidate_on_server(served.url, template, good)  # the next click is answered
        assert served.proc.poll() is None
    assert offer["kind"] == "summary" and "已汇总 3 个单位" in offer["message"] and "已汇总 3 个单位" in again["message"]
    assert summary_sums(tmp_path / "summary.xlsx") == pytest.approx(independent_sums(good))
    board = [" ".join(str(v) for v in row) for row in board_rows(tmp_path / "summary.xlsx")]
    for path in bad:
        row = next(row for row in board if path.name in row)
        assert chinese(row.replace(path.name, "")), row
    assert any("数据区域过大" in row for row in board) and any("解压后过大" in row for row in board)
