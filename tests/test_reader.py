"""The reader (issue 2, third “Done when” item): real numbers out of real files, clear Chinese
reasons for everything that is not a readable report, and the input never touched.

Expected numbers are hard-coded here from the published text of the seed report
(``samples/published/宁海县交通运输局2020年政府信息公开工作年度报告.txt``), not taken from the
transcription the sample was built from.
"""

from __future__ import annotations

import math
import re
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import openpyxl
import pytest

from workbook.layout import layout_for
from workbook.read import ReadError, read_report
from workbook.values import Status

if TYPE_CHECKING:  # fixture types only; the fixtures themselves come from conftest.py
    from conftest import BuiltTemplate, CliFn, OfficeRun

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
SEED_NAME = "宁海县交通运输局2020年政府信息公开工作年度报告"
SEED = SAMPLES / f"{SEED_NAME}.xlsx"
SEED_TXT = SAMPLES / "published" / f"{SEED_NAME}.txt"
DAMAGED_SAMPLE = SAMPLES / "青禾县-2026" / "收文" / "附件1.xlsx"
CJK = re.compile(r"[\u4e00-\u9fff]")

# ----- the seed as published (read off the .txt) ---------------------------------------------------
SEED_PART2: dict[str, list[float]] = {
    "a1.rules": [0, 0, 0], "a1.normative": [0, 0, 0],
    "a5.licensing": [21, 92, 107], "a5.other_services": [0, 0, 0],
    "a6.penalty": [408, 222, 930], "a6.coercion": [0, 0, 0],
    "a8.fees": [0, 0],
    "a9.procurement": [4, 1.2678],
}
SEED_PART2_COLUMNS = {"a1": ["made", "published", "total"], "a5": ["previous", "change", "decisions"],
                      "a6": ["previous", "change", "decisions"], "a8": ["previous", "change"],
                      "a9": ["projects", "amount"]}
PART3_COLUMNS = ["natural", "business", "research", "nonprofit", "legal", "other_org", "total"]
SEED_PART3_NUMBERS = {
    "new": [1, 0, 0, 0, 0, 0, 1],
    "carried": [0] * 7,
    "public": [0] * 7,
    "partial": [1, 0, 0, 0, 0, 0, 1],
    "other": [0] * 7,
    "total": [1, 1, 0, 0, 0, 0, 1],   # as published: 商业企业 1 although no item row has one
    "carry_next": [0] * 7,
}
SEED_PART3_BLANK_ROWS = [  # published as empty cells
    "withheld_secret", "withheld_law", "withheld_safety", "withheld_third_party", "withheld_internal",
    "withheld_process", "withheld_enforcement", "withheld_query", "unable_no_info", "unable_need_create",
    "unable_unclear", "rejected_petition", "rejected_repeat", "rejected_publication", "rejected_mass",
    "rejected_confirm",
]
PART4_COLUMNS = [f"{g}_{r}" for g in ("review", "direct", "after")
                 for r in ("upheld", "corrected", "other", "pending", "total")]
SEED_PART4 = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1]


def published_section(text: str, heading: str, next_heading: str | None) -> str:
    """A text part of the published report: what lies between its heading and the next one."""
    start = text.index(heading) + len(heading)
    end = text.index(next_heading, start) if next_heading else len(text)
    return text[start:end].strip()


def assert_untouched(path: Path, before: tuple[str, int], sha256: Callable[[Path], str]) -> None:
    assert (sha256(path), path.stat().st_mtime_ns) == before, f"reading changed {path.name}"


def fingerprint(path: Path, sha256: Callable[[Path], str]) -> tuple[str, int]:
    return sha256(path), path.stat().st_mtime_ns


# ----- the seed --------------------------------------------------------------------------------------

def test_seed_sample_reads_the_published_numbers(sha256: Callable[[Path], str]) -> None:
    """Part 二/三/四 of the seed come back exactly as published, mistakes included; 1．2678万元 is
    read as 1.2678 and marked NORMALISED; empty cells read as 0 and marked BLANK."""
    before = fingerprint(SEED, sha256)
    report = read_report(SEED)
    assert_untouched(SEED, before, sha256)
    assert report.edition_key == "2019"
    numbers, status = report.numbers, report.statuses
    for row, values in SEED_PART2.items():
        block = row.split(".")[0]
        for col, want in zip(SEED_PART2_COLUMNS[block], values):
            assert numbers[f"part2.{row}.{col}"] == pytest.approx(want), (row, col)
    assert status["part2.a9.procurement.amount"] == Status.NORMALISED
    assert report.parsed["part2.a9.procurement.amount"].how
    assert status["part2.a5.licensing.decisions"] == Status.OK
    for row, values in SEED_PART3_NUMBERS.items():
        assert [numbers[f"part3.main.{row}.{c}"] for c in PART3_COLUMNS] == values, row
        assert {status[f"part3.main.{row}.{c}"] for c in PART3_COLUMNS} == {Status.OK}, row
    for row in SEED_PART3_BLANK_ROWS:
        for c in PART3_COLUMNS:
            assert numbers[f"part3.main.{row}.{c}"] == 0, (row, c)
            assert status[f"part3.main.{row}.{c}"] == Status.BLANK, (row, c)
    assert [numbers[f"part4.main.cases.{c}"] for c in PART4_COLUMNS] == SEED_PART4


def test_seed_sample_reads_cover_and_text_parts_as_published() -> None:
    """Cover (unit, year) and the text parts 一、五、六 equal the published text."""
    report = read_report(SEED)
    text = SEED_TXT.read_text(encoding="utf-8")
    assert report.unit == "宁海县交通运输局"
    assert report.cover["year"] == "2020" and report.year == 2020
    assert report.texts["overview"] == published_section(text, "1、 总体情况", "二、主动公开政府信息情况")
    assert report.texts["problems"] == published_section(text, "五、存在的主要问题及改进情况", "六、其他需要报告的事项")
    assert report.texts["other"] == published_section(text, "六、其他需要报告的事项", None)
    assert "146" in report.texts["overview"]


# ----- what is not a report --------------------------------------------------------------------------

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def legacy_xls_bytes() -> bytes:
    """A minimal Excel 97-2003 file: an OLE compound file (CFB v3, 512-byte sectors) holding one
    “Workbook” stream that starts with a BIFF8 BOF record — built by hand, as nothing installed
    writes .xls."""
    end, free, fat_sect, none = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFFF
    stream = (struct.pack("<HHHHHHII", 0x0809, 16, 0x0600, 0x0005, 0x0DBB, 0x07CC, 0, 6)
              + struct.pack("<HH", 0x000A, 0)).ljust(4096, b"\0")
    sectors = len(stream) // 512
    header = bytearray(512)
    header[0:8] = OLE_MAGIC
    struct.pack_into("<HHHHH", header, 24, 0x003E, 0x0003, 0xFFFE, 9, 6)
    struct.pack_into("<9I", header, 40, 0, 1, 1, 0, 0x1000, end, 0, end, 0)
    struct.pack_into("<109I", header, 76, 0, *([free] * 108))
    fat = [fat_sect, end, *range(3, 2 + sectors), end]
    fat_sector = struct.pack("<128I", *(fat + [free] * (128 - len(fat))))

    def entry(name: str, kind: int, child: int, start: int, size: int) -> bytes:
        e = bytearray(128)
        raw = name.encode("utf-16-le") + b"\0\0" if name else b""
        e[: len(raw)] = raw
        struct.pack_into("<HBB", e, 64, len(raw), kind, 1)
        struct.pack_into("<III", e, 68, none, none, child)
        struct.pack_into("<IQ", e, 116, start, size)
        return bytes(e)

    directory = (entry("Root Entry", 5, 1, end, 0) + entry("Workbook", 2, none, 2, len(stream))
                 + entry("", 0, none, 0, 0) * 2)
    return bytes(header) + fat_sector + directory + stream


def make_empty(tmp: Path, template: Path) -> Path:
    path = tmp / "空文件.xlsx"
    path.write_bytes(b"")
    return path


def make_truncated(tmp: Path, template: Path) -> Path:
    data = template.read_bytes()
    path = tmp / "传输中断.xlsx"
    path.write_bytes(data[: len(data) // 2])
    return path


def make_foreign_workbook(tmp: Path, template: Path) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "工资表"
    ws.append(["姓名", "部门", "金额"])
    for i in range(20):
        ws.append([f"职工{i}", "办公室", 1000 + i])
    wb.create_sheet("Sheet2")["A1"] = "备注"
    path = tmp / "工资表.xlsx"
    wb.save(path)
    return path


def make_encrypted(tmp: Path, template: Path) -> Path:
    msoffcrypto = pytest.importorskip("msoffcrypto", reason="msoffcrypto-tool (test extra) is needed to encrypt")
    from msoffcrypto.format.ooxml import OOXMLFile

    path = tmp / "加密年报.xlsx"
    with template.open("rb") as src, path.open("wb") as out:
        OOXMLFile(src).encrypt("mima2026", out)
    assert msoffcrypto.OfficeFile(path.open("rb")).is_encrypted()
    return path


def make_legacy_xls(tmp: Path, template: Path) -> Path:
    path = tmp / "旧格式年报.xls"
    path.write_bytes(legacy_xls_bytes())
    olefile = pytest.importorskip("olefile")
    assert olefile.OleFileIO(str(path)).listdir() == [["Workbook"]]  # a well-formed OLE container
    return path


def make_lock_file(tmp: Path, template: Path) -> Path:
    path = tmp / "~$年报.xlsx"
    owner = "张伟".encode("utf-16-le")
    path.write_bytes(bytes([len("张伟")]) + b"\0" + owner + b"\x20" * (165 - 2 - len(owner)))
    return path


def make_word_document(tmp: Path, template: Path) -> Path:
    docx = pytest.importorskip("docx")
    doc = docx.Document()
    doc.add_heading("2026年政府信息公开工作年度报告", 0)
    doc.add_paragraph("一、总体情况")
    path = tmp / "年报正文.docx"
    doc.save(str(path))
    return path


def make_missing(tmp: Path, template: Path) -> Path:
    return tmp / "不存在的年报.xlsx"


def committed_damaged(tmp: Path, template: Path) -> Path:
    return DAMAGED_SAMPLE


BAD_FILES: list[tuple[str, Callable[[Path, Path], Path], str]] = [
    ("empty", make_empty, "empty"),
    ("truncated-zip", make_truncated, "damaged"),
    ("committed-damaged-sample", committed_damaged, "damaged"),
    ("foreign-workbook", make_foreign_workbook, "not_template"),
    ("encrypted", make_encrypted, "encrypted"),
    ("legacy-xls", make_legacy_xls, "xls"),
    ("lock-file", make_lock_file, "lock_file"),
    ("word-docx", make_word_document, "not_xlsx"),
    ("missing", make_missing, "unreadable"),
]


@pytest.mark.parametrize(("maker", "code"), [pytest.param(m, c, id=i) for i, m, c in BAD_FILES])
def test_unreadable_file_gets_a_chinese_reason_naming_it(
        tmp_path: Path, templates: dict[str, BuiltTemplate], sha256: Callable[[Path], str],
        maker: Callable[[Path, Path], Path], code: str) -> None:
    """Empty, truncated, foreign, encrypted, legacy .xls, lock, Word and missing files each raise
    ReadError with the right code and a Chinese reason that names the file — and stay untouched."""
    path = maker(tmp_path, templates["2021"].path)
    before = fingerprint(path, sha256) if path.exists() else None
    with pytest.raises(ReadError) as caught:
        read_report(path)
    err = caught.value
    assert err.code == code, str(err)
    assert path.name in str(err)
    assert CJK.search(err.reason), err.reason
    if before is not None:
        assert_untouched(path, before, sha256)


def test_show_command_reports_unreadable_files_without_traceback(
        cli: CliFn, tmp_path: Path, templates: dict[str, BuiltTemplate]) -> None:
    """`nianbao show` on bad files exits 2 and names each file with its reason, never a traceback."""
    files = [make_empty(tmp_path, templates["2021"].path), make_truncated(tmp_path, templates["2021"].path),
             make_foreign_workbook(tmp_path, templates["2021"].path)]
    proc = cli(["show", *map(str, files)], tmp_path)
    said = proc.stdout + proc.stderr
    assert proc.returncode == 2, said
    assert "Traceback" not in said
    for f in files:
        assert f.name in said


# ----- what a real file goes through -----------------------------------------------------------------

def test_renamed_sheet_is_found_by_its_title(tmp_path: Path, sha256: Callable[[Path], str]) -> None:
    """A clerk unprotects the workbook and renames “三、依申请公开” to “Sheet3”: it still reads, the
    same, with the table found by its printed title."""
    original = read_report(SEED)
    wb = openpyxl.load_workbook(SEED)
    wb.security = None
    for ws in wb.worksheets:
        ws.protection.sheet = False
    wb["三、依申请公开"].title = "Sheet3"
    renamed = tmp_path / "改了表名.xlsx"
    wb.save(renamed)
    before = fingerprint(renamed, sha256)
    report = read_report(renamed)
    assert_untouched(renamed, before, sha256)
    assert report.sheet_names["part3"] == "Sheet3"
    assert report.edition_key == original.edition_key
    assert report.raw == original.raw
    assert report.cover == original.cover and report.texts == original.texts


@pytest.mark.office
@pytest.mark.parametrize("name", ["seed", "messy"])
def test_workbook_saved_by_libreoffice_reads_identically(office_run: OfficeRun, name: str) -> None:
    """The seed (2019) and a county file with “-”, “/” and a full-width digit (2021), once saved by
    LibreOffice, read exactly as before: every cell as typed, cover, texts, notes."""
    original, saved = office_run.saved[name]
    a, b = read_report(original), read_report(saved)
    assert b.edition_key == a.edition_key
    diff = {k: (a.raw[k], b.raw.get(k)) for k in a.raw if a.raw[k] != b.raw.get(k)}
    assert not diff, diff
    assert (b.cover, b.texts, b.notes, b.source, b.scope) == (a.cover, a.texts, a.notes, a.source, a.scope)
    assert any(isinstance(v, str) for v in b.raw.values())  # the typed text really went through


TYPED: dict[str, tuple[Any, float, Status]] = {
    "part3.main.new.natural": ("12", 12, Status.NORMALISED),           # number stored as text
    "part3.main.new.business": ("１２", 12, Status.NORMALISED),         # full-width digits
    "part3.main.new.research": ("-", 0, Status.PLACEHOLDER),
    "part3.main.new.nonprofit": ("/", 0, Status.PLACEHOLDER),
    "part3.main.new.legal": ("无", 0, Status.PLACEHOLDER),
    "part3.main.new.other_org": (None, 0, Status.BLANK),
    "part3.main.carried.natural": (3.0, 3, Status.OK),                 # whole number stored as float
    "part3.main.carried.business": (7, 7, Status.OK),
    "part3.main.carried.research": ("约5件", math.nan, Status.INVALID),  # never guessed
    "part3.main.carried.nonprofit": ("\u3000", 0, Status.BLANK),        # a full-width space is blank
    "part2.a1.normative.issued": ("１，２３４", 1234, Status.NORMALISED),
    "part2.a8.fees.amount": ("1．2678万元", 1.2678, Status.NORMALISED),
    "part4.main.cases.review_upheld": ("２", 2, Status.NORMALISED),
}


def test_typed_text_full_width_and_placeholders_read_with_their_status(
        tmp_path: Path, templates: dict[str, BuiltTemplate], sha256: Callable[[Path], str],
        fill_inputs: Callable[[Path, Path, dict[str, Any]], Path]) -> None:
    """What clerks type — text numbers, full-width digits, “-”, “/”, “无”, blanks, floats — is read
    to the right number with the right Status, and each normalisation says what it did."""
    path = fill_inputs(templates["2021"].path, tmp_path / "手填.xlsx", {k: v[0] for k, v in TYPED.items()})
    before = fingerprint(path, sha256)
    report = read_report(path)
    assert_untouched(path, before, sha256)
    for cid, (typed, value, status) in TYPED.items():
        parsed = report.parsed[cid]
        assert parsed.status == status, (cid, typed, parsed)
        if math.isnan(value):
            assert math.isnan(parsed.value), (cid, parsed)
        else:
            assert parsed.value == pytest.approx(value), (cid, parsed)
        if status in (Status.NORMALISED, Status.PLACEHOLDER, Status.INVALID):
            assert parsed.how, (cid, parsed)
    assert report.parsed["part3.main.new.business"].how and "全角" in report.parsed["part3.main.new.business"].how


def test_reading_leaves_every_sample_untouched(sha256: Callable[[Path], str]) -> None:
    """Reading (including failing to read) never writes: bytes and mtime are the same afterwards."""
    files = sorted(p for p in SAMPLES.rglob("*.xlsx"))
    assert len(files) > 20
    for path in files:
        before = fingerprint(path, sha256)
        try:
            read_report(path)
        except ReadError:
            pass
        assert_untouched(path, before, sha256)
    assert not [p for p in SAMPLES.rglob("*") if p.name.startswith(".~")]  # no stray temp files


def test_reader_finds_cells_where_the_layout_says(templates: dict[str, BuiltTemplate], tmp_path: Path,
                                                  fill_inputs: Callable[[Path, Path, dict[str, Any]], Path]) -> None:
    """Every input cell of both editions maps to its own position: a distinct number typed into
    each (with openpyxl) comes back at the same cell id."""
    for key, t in templates.items():
        lay = layout_for(key)
        values = {c.id: i + 1 for i, c in enumerate(lay.edition.input_cells)}
        path = fill_inputs(t.path, tmp_path / f"distinct-{key}.xlsx", values)
        report = read_report(path)
        got = {cid: report.numbers[cid] for cid in values}
        assert got == {cid: float(v) for cid, v in values.items()}, key
