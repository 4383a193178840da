"""``import`` has limits (issue 10, item 7): a page nested 200,000 elements deep, a 100 KB page
asking for tables of 65,534 × 1,000 cells, and a 1.5 MB Word file that inflates to gigabytes.
Each is read (or refused with a Chinese reason) in bounded time and memory, measured in a
process of its own, and in a batch it is that file's error only: the other files are imported.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Callable

import pytest
from test_import_writers import html_page, numbers, sample, tab_dump

ROOT = Path(__file__).resolve().parents[1]
Cli = Callable[[list[str], Path], subprocess.CompletedProcess[str]]
MAX_RSS_MB = 400  # the importer of a normal report needs ~60 MB
MAX_SECONDS = 30


def nested_page(path: Path) -> Path:
    """A real report inside 200,000 nested ``<div>`` elements."""
    page = html_page(sample(seed=60), charset="utf-8").decode("utf-8")
    at = page.index("<body>") + len("<body>")
    path.write_text(page[:at] + "<div>" * 200_000 + page[at:], encoding="utf-8")
    return path


def span_page(path: Path) -> Path:
    """~100 KB of cells each claiming rowspan=65534 colspan=1000 (3.7 GB as the old importer
    laid them out)."""
    rows = "".join("<tr>" + '<td rowspan="65534" colspan="1000">1</td>' * 4 + "</tr>" for _ in range(560))
    path.write_text(f"<html><body><p>二、主动公开政府信息情况</p><table>{rows}</table></body></html>", encoding="utf-8")
    return path


def docx_bomb(path: Path) -> Path:
    """A valid Word package whose document part inflates ~1000:1 to 1.5 GB (written in chunks,
    so making it costs the test no memory)."""
    from docx import Document

    buf = io.BytesIO()
    doc = Document()
    doc.add_paragraph("x")
    doc.save(buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename != "word/document.xml":
                z.writestr(item.filename, data)
                continue
            head, tail = data.split(b"<w:t>x</w:t>")
            with z.open(item.filename, "w", force_zip64=True) as part:
                part.write(head + b"<w:t>")
                chunk = b" " * (1 << 20)
                for _ in range(1430):
                    part.write(chunk)
                part.write(b"</w:t>" + tail)
    return path


_PROBE = """
import json, sys, time
from workbook.published import PublishedError, import_report
start = time.perf_counter()
try:
    got = import_report(sys.argv[1])
    outcome = {"placed": got.placed, "problems": len(got.problems)}
except PublishedError as exc:
    outcome = {"code": exc.code, "reason": exc.reason}
outcome["seconds"] = time.perf_counter() - start
# the peak of this process's own memory (ru_maxrss would include the forking parent's)
with open("/proc/self/status") as fh:
    outcome["rss_mb"] = next(int(l.split()[1]) for l in fh if l.startswith("VmHWM")) / 1024
print(json.dumps(outcome, ensure_ascii=False))
"""


def _probe(path: Path) -> dict[str, object]:
    """Import ``path`` in a fresh process; what came out, how long it took, its peak memory."""
    proc = subprocess.run([sys.executable, "-c", _PROBE, str(path)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("hostile")
    return {"nested": nested_page(tmp / "嵌套.html"), "spans": span_page(tmp / "跨行.html"),
            "bomb": docx_bomb(tmp / "炸弹.docx")}


def test_a_page_nested_200000_deep_is_read_without_a_recursion_error(hostile: dict[str, Path]) -> None:
    got = _probe(hostile["nested"])
    assert got.get("placed") == 200 and got.get("problems") == 0, got  # the report inside is read whole
    assert got["seconds"] < MAX_SECONDS and got["rss_mb"] < MAX_RSS_MB, got


def test_huge_rowspans_and_colspans_are_bounded_by_the_spec(hostile: dict[str, Path]) -> None:
    assert 90_000 < hostile["spans"].stat().st_size < 130_000
    got = _probe(hostile["spans"])
    assert got["seconds"] < MAX_SECONDS and got["rss_mb"] < MAX_RSS_MB, got
    assert "reason" in got and not str(got["reason"]).isascii()


def test_a_word_zip_bomb_is_refused_before_it_inflates(hostile: dict[str, Path]) -> None:
    assert hostile["bomb"].stat().st_size < 2_000_000
    got = _probe(hostile["bomb"])
    assert got.get("code") == "too_large" and "解压后过大" in str(got["reason"]), got
    assert got["seconds"] < MAX_SECONDS and got["rss_mb"] < MAX_RSS_MB, got


def test_in_a_batch_each_hostile_file_is_its_own_error(tmp_path: Path, hostile: dict[str, Path], cli: Cli) -> None:
    folder = tmp_path / "公开年报"
    folder.mkdir()
    for p in hostile.values():
        (folder / p.name).write_bytes(p.read_bytes())
    good = sample(unit="青禾县卫生健康局", seed=61)
    (folder / "青禾县卫生健康局.txt").write_text(tab_dump(good), encoding="utf-8")
    proc = cli(["import", str(folder), "-o", str(tmp_path / "录入"), "--json"], tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "内部错误" not in proc.stdout + proc.stderr
    files = {Path(f["path"]).name: f for f in json.loads(proc.stdout)["files"]}
    assert files["炸弹.docx"]["error"] and not files["炸弹.docx"]["error"].isascii()
    assert files["跨行.html"]["error"]
    assert files["嵌套.html"]["placed"] == 200
    assert files["青禾县卫生健康局.txt"]["placed"] == 200
    from workbook.read import read_report

    back = read_report(tmp_path / "录入" / "青禾县卫生健康局.xlsx")
    want = numbers(good)
    assert {k: v for k, v in back.numbers.items() if k in want} == want
