"""Bounds an .xlsx package must keep before anything parses it.

Why: the cell reader (python-calamine) trusts a package. It inflates whole the parts it loads when
a workbook is opened (shared strings, styles, the workbook part and its relationships), buffers any
text between two tags whole, and turns a sheet into a dense grid from A1 to the farthest cell that
holds a value. One cell at ``XFD1048576`` therefore asks for 17 billion cells (the process aborts),
one at ``AZ1048576`` costs gigabytes, and a zip bomb — a part that inflates a thousandfold, declared
honestly or not — is read whole. A 29 KB file must not take a county's consolidation down.

So, on the bytes of the file and before the reader sees them:

* the zip directory: number of parts, each part's and the total uncompressed size, and the ratio
  of a large part to its compressed size (whitespace and zeros inflate ~1000:1, real sheets ~10:1);
* the parts the reader loads at opening, inflated here with a bounded buffer and counted (a size
  the directory understates is caught: what counts is what comes out of the inflater);
* each sheet, just before the reader turns it into a grid (``Package.check_sheet``): its XML up to
  the end of the cells is streamed (never held whole) and the farthest cell holding a value is
  found, emulating how the reader places cells (an ``r="B7"`` attribute, or counting for cells
  without one). The grid from A1 to that cell must stay within ``MAX_CELLS``.

The ``<dimension ref=…>`` marker is deliberately not decisive: the reader only uses it to reserve
room for at most 100,000 cells, and WPS writes markers that are wrong in both directions — a good
file must not be refused for it. What a report can hold sets the bounds, with a wide margin: a
table sheet is about 60 rows by 12 columns, the notes sheet 42 rows, and the largest sheet the
reader turns into a grid is a summary's ``_meta`` (one row per unit summed: 3 columns by 20,000
rows for a county of 20,000 units, 60,000 cells). ``MAX_CELLS`` allows 2,000,000 and ``MAX_ROWS``
200,000 (together at most ~110 MB of grid: the reader spends ~40 bytes a cell and ~150 a row); sheets the reader never turns into a grid (a summary's
明细 has a row per unit and 170 columns) are not bounded by it.

A refusal raises ``LimitError`` with the Chinese reason the office is shown. These checks are the
first line; a parser can still fail in ways no check foresees, which is why untrusted files are
also read in worker processes with a memory and time limit (``workbook.isolate``).

Cost on a normal unit file: ~0.2 ms (six sheets inflated up to the end of their cells and scanned),
against ~1 ms for reading it; consolidating 2,000 units takes ~7 % longer (measured with
``tests/bench/bench_consolidate.py --code``).
"""

from __future__ import annotations

import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from html import unescape
from typing import Iterable, Iterator

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB

#: Parts in one package (a template has 17; a workbook with many pictures a few hundred).
MAX_PARTS = 4000
#: Bytes of the zip central directory (one entry ~100 bytes).
MAX_DIRECTORY = 8 * MIB
#: Declared uncompressed size of any one part, and of all parts together. A summary of 20,000
#: units holds ~110 MB in all (its 明细 sheet ~100 MB); 50 MB on disk, the reader's file limit,
#: never inflates to more than ~400 MB at the ratios real workbooks have.
MAX_PART = 512 * MIB
MAX_TOTAL = 1 * GIB
#: A part larger than ``RATIO_FLOOR`` that inflates more than ``MAX_RATIO`` times is a bomb: real
#: sheets and string tables compress 3–15:1; runs of whitespace or zeros ~1000:1.
RATIO_FLOOR = 8 * MIB
MAX_RATIO = 150
#: Parts the reader loads whole when it opens a package, with what each may inflate to.
EAGER_PARTS = {"xl/sharedstrings.xml": 64 * MIB, "xl/styles.xml": 16 * MIB, "xl/workbook.xml": 16 * MIB,
               "xl/_rels/workbook.xml.rels": 4 * MIB}
#: Sheets in a workbook (a summary has 11; the reader may look at every sheet for a renamed table).
MAX_SHEETS = 255
#: Shared strings (a county summary of 20,000 units has ~150,000; each costs the reader ≥ 24 bytes).
MAX_STRINGS = 2_000_000
#: A sheet's XML up to the end of its cells (a 20,000-unit summary's ``_meta``: ~3 MB).
MAX_SHEET_XML = 64 * MIB
#: Bytes between two markup characters: the reader buffers a run of text, or a tag, whole. A cell
#: holds at most 32,767 characters (~100 KB).
MAX_GAP = 4 * MIB
#: Cells of the grid from A1 to a sheet's farthest cell holding a value (see the module text), and
#: its rows (a row costs the reader ~150 bytes more than its cells: one cell at A1048576 is 190 MB).
MAX_CELLS = 2_000_000
MAX_ROWS = 200_000
#: Excel's sheet size: no real file places a cell beyond it.
EXCEL_ROWS, EXCEL_COLS = 1_048_576, 16_384

TOO_BIG = "文件内容异常（解压后过大），不是正常的年报工作簿"
#: Deflate's largest ratio (a stream of one repeated byte): a part can never inflate to more than
#: this times its compressed size, whatever its directory entry says.
DEFLATE_RATIO = 1032
_CHUNK_IN = 64 * KIB
_CHUNK_OUT = 256 * KIB
_SHEET_CHUNK = 16 * KIB  # a table sheet's cells end within ~10 KB; what follows is not inflated


class LimitError(Exception):
    """A package outside the bounds; ``reason`` is the Chinese text the office is shown."""

    def __init__(self, reason: str, code: str = "abnormal") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


# --------------------------------------------------------------------------------------------
# The zip directory
# --------------------------------------------------------------------------------------------

def check_directory(data: bytes) -> None:
    """Refuse a package whose central directory lists too many parts, read from the end record
    alone — before ``zipfile`` builds an object per entry. A package without an end record is left
    to ``zipfile``, which reports it as damaged."""
    at = data.rfind(b"PK\x05\x06", max(0, len(data) - 22 - 65535))
    if at < 0 or at + 22 > len(data):
        return
    entries, size = struct.unpack_from("<xxxxxxxxxxHI", data, at)
    if entries == 0xFFFF or size == 0xFFFFFFFF:  # zip64: the counts are in the zip64 end record
        loc = at - 20
        if loc >= 0 and data[loc:loc + 4] == b"PK\x06\x07":
            (end64,) = struct.unpack_from("<Q", data, loc + 8)
            if 0 <= end64 <= len(data) - 56 and data[end64:end64 + 4] == b"PK\x06\x06":
                entries, size = struct.unpack_from("<QQ", data, end64 + 32)[0], struct.unpack_from("<Q", data, end64 + 40)[0]
    if entries > MAX_PARTS:
        raise LimitError(f"文件内容异常（包含 {entries} 个部件），不是正常的年报工作簿")
    if size > MAX_DIRECTORY:
        raise LimitError("文件内容异常（压缩包目录过大），不是正常的年报工作簿")


def _key(name: str) -> str:
    return name.replace("\\", "/").lstrip("/").lower()


@dataclass
class Extent:
    """Where a sheet's farthest cell holding a value sits (0-based), and the grid that makes."""

    rows: int = 0
    cols: int = 0

    @property
    def cells(self) -> int:
        return self.rows * self.cols

    def corner(self) -> str:
        col, n = "", self.cols
        while n:
            n, rem = divmod(n - 1, 26)
            col = chr(65 + rem) + col
        return f"{col}{self.rows}"


@dataclass
class Package:
    """A package whose directory and eagerly loaded parts are within bounds; its sheets are
    checked one by one, when the reader is about to turn one into a grid."""

    data: bytes
    zf: zipfile.ZipFile
    parts: dict[str, list[zipfile.ZipInfo]] = field(default_factory=dict)
    _sheets: dict[str, str] | None = None
    _checked: dict[str, Extent] = field(default_factory=dict)

    def infos(self, part: str) -> list[zipfile.ZipInfo]:
        """Every entry with that name (case and leading slash ignored, duplicates kept: which one a
        reader takes is its own affair, so all of them are checked)."""
        return self.parts.get(_key(part), [])

    def sheet_parts(self) -> dict[str, str]:
        """Sheet name → part, resolved as the reader resolves it (see ``_sheet_map``)."""
        if self._sheets is None:
            self._sheets = _sheet_map(self._whole("xl/workbook.xml"), self._whole("xl/_rels/workbook.xml.rels"))
        return self._sheets

    def _whole(self, part: str) -> bytes:
        infos = self.infos(part)
        return b"".join(_inflate(self.data, infos[0], EAGER_PARTS.get(_key(part), MAX_SHEET_XML))) if infos else b""

    def check_sheets(self, names: Iterable[str]) -> None:
        """``check_sheet`` for those of ``names`` the workbook has, one after the other: done before
        the reader starts, the inflater and the patterns stay warm in the processor's caches (a
        third faster than checking each sheet between the reader's own steps)."""
        known = self.sheet_parts()
        for name in names:
            if name in known:
                self.check_sheet(name)

    def check_sheet(self, name: str) -> Extent:
        """The extent of the sheet called ``name``; raises ``LimitError`` when its grid would be
        too large. A name this scan cannot place (the reader's own XML parser may unescape a name
        differently) has every sheet part checked instead."""
        part = self.sheet_parts().get(name)
        targets = [part] if part else sorted(set(self.sheet_parts().values())) or [
            k for k in self.parts if k.startswith("xl/worksheets/")]
        extent = Extent()
        for target in targets:
            if target not in self._checked:
                self._checked[target] = _largest(self.data, self.infos(target), name)
            found = self._checked[target]
            extent = found if found.cells > extent.cells else extent
        return extent


@lru_cache(maxsize=64)
def _sheet_map(book: bytes, rels: bytes) -> dict[str, str]:
    """Sheet name → part from workbook.xml and its relationships, as the reader resolves it: the
    sheet's ``r:id`` through the relationships, a target starting ``/xl/`` or ``xl/`` kept, any
    other placed below ``xl/``; the first sheet of a name wins. Cached on the two parts' bytes: a
    county's files all come from one template, so the scan runs once per run, not per file (the
    dictionary is shared: never changed by a caller)."""
    targets = {rid: target.decode("utf-8", "replace") for rid, target in _tags(rels, b"Relationship", b"Id", b"Target")}
    out: dict[str, str] = {}
    for raw_name, rid in _tags(book, b"sheet", b"name", b":id"):
        target = targets.get(rid, "")
        name = unescape(raw_name.decode("utf-8", "replace"))
        if target and name not in out:
            out[name] = target[1:] if target.startswith("/xl/") else target if target.startswith("xl/") else "xl/" + target
    return out


def check_package(data: bytes, zf: zipfile.ZipFile) -> Package:
    """Check the directory and the parts the reader loads when it opens ``data`` (``zf`` is the
    same bytes, already opened). Raises ``LimitError``."""
    check_directory(data)
    infos = zf.infolist()
    if len(infos) > MAX_PARTS:
        raise LimitError(f"文件内容异常（包含 {len(infos)} 个部件），不是正常的年报工作簿")
    total = 0
    parts: dict[str, list[zipfile.ZipInfo]] = {}
    for info in infos:
        if info.file_size > MAX_PART:
            raise LimitError(TOO_BIG)
        total += info.file_size
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise LimitError(TOO_BIG)
        parts.setdefault(_key(info.filename), []).append(info)
    if total > MAX_TOTAL:
        raise LimitError(TOO_BIG)
    package = Package(data, zf, parts)
    for part, limit in EAGER_PARTS.items():
        strings = part == "xl/sharedstrings.xml"
        # A part too small to reach any bound even at deflate's largest ratio is not inflated (the
        # common case: a unit's string table is ~3 KB compressed); a string costs ≥ 5 bytes (<si/>).
        safe = min(limit, MAX_GAP, 5 * MAX_STRINGS if strings else limit)
        for info in package.infos(part):
            if info.compress_type == zipfile.ZIP_DEFLATED and info.compress_size * DEFLATE_RATIO <= safe:
                continue
            count = 0
            for chunk in _inflate(data, info, limit):
                if strings:
                    count += chunk.count(b"<si") + chunk.count(b":si")
            if count > MAX_STRINGS:
                raise LimitError(f"文件内容异常（共享字符串多达 {count} 个），不是正常的年报工作簿")
    return package


# --------------------------------------------------------------------------------------------
# Inflating a part with bounded memory
# --------------------------------------------------------------------------------------------

def _inflate(data: bytes, info: zipfile.ZipInfo, limit: int, size: int = _CHUNK_OUT) -> Iterator[bytes]:
    """A part's bytes, a chunk at a time, straight from the compressed stream (not through the
    size the directory declares). Raises ``LimitError`` past ``limit`` bytes, or when a markup-free
    run exceeds ``MAX_GAP``; a part that cannot be inflated yields nothing more (the reader then
    reports the file as damaged)."""
    if info.flag_bits & 0x1:  # encrypted part: no reader can open it, nothing to inflate
        return
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise LimitError("文件使用了 Excel 不使用的压缩方式，无法读取。请在 Excel/WPS 中打开后重新保存，或重新发送", "damaged")
    at = info.header_offset
    if at < 0 or data[at:at + 4] != b"PK\x03\x04":
        return
    name_len, extra_len = struct.unpack_from("<HH", data, at + 26)
    start = at + 30 + name_len + extra_len
    raw = memoryview(data)[start:start + info.compress_size]
    total, gap = 0, 0
    for chunk in _raw_chunks(raw, info.compress_type, size):
        total += len(chunk)
        if total > limit:
            raise LimitError(TOO_BIG)
        last = max(chunk.rfind(b"<"), chunk.rfind(b">"))
        gap = gap + len(chunk) if last < 0 else len(chunk) - last - 1
        if gap > MAX_GAP:
            raise LimitError(TOO_BIG)
        yield chunk


def _raw_chunks(raw: memoryview, method: int, size: int) -> Iterator[bytes]:
    """Inflated pieces of at most ``size`` bytes (the first small, so that a sheet whose cells end
    early is not inflated further; later ones larger, to keep the per-call cost low)."""
    if method == zipfile.ZIP_STORED:
        for i in range(0, len(raw), _CHUNK_OUT):
            yield bytes(raw[i:i + _CHUNK_OUT])
        return
    inflater = zlib.decompressobj(-15)
    pos = 0
    pending = b""
    try:
        while not inflater.eof:
            if pending:
                source = pending
            elif pos < len(raw):
                source, pos = raw[pos:pos + _CHUNK_IN], pos + _CHUNK_IN
            else:
                source = b""
            out = inflater.decompress(source, size)
            size = min(2 * size, _CHUNK_OUT)
            pending = inflater.unconsumed_tail
            if out:
                yield out
            elif not source:
                return  # input used up, nothing more comes out: a truncated stream
    except zlib.error:
        return


# --------------------------------------------------------------------------------------------
# A sheet's farthest cell
# --------------------------------------------------------------------------------------------

_HIDDEN = re.compile(rb"<!--.*?-->|<!\[CDATA\[.*?\]\]>|<\?.*?\?>", re.DOTALL)
_SHEET_DATA = re.compile(rb"<(?:[\w.-]+:)?sheetData[\s/>]")
_SHEET_DATA_END = re.compile(rb"</(?:[\w.-]+:)?sheetData\s*>")
#: A cell tag that does not start with a small ``r`` (row < 1000, column ≤ ZZ), or a cell tag with
#: a prefix: anything but the usual is worked out exactly. Rows need no look: a cell with an ``r``
#: is placed by it alone, and only cells make the grid.
_UNUSUAL_CELL = re.compile(rb'<c(?! r="[A-Z]{0,2}[0-9]{1,3}")')
_PREFIXED_CELL = re.compile(rb":c[\s/>]")
_TAG = re.compile(rb"<(/?)(?:[\w.-]+:)?(c|row)(?=[\s/>])([^>]*)>")
_R = re.compile(rb"""(?:^|\s)r\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_REF = re.compile(rb"([A-Za-z]*)([0-9]+)")


def _segments(data: bytes, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """The sheet's XML from its cells' start to their end, in pieces that each end before a ``<``
    (so no tag is cut in two), with comments, CDATA sections and processing instructions taken
    out: the reader skips them, so a ``</sheetData>`` or a cell tag inside one must not end or widen
    the scan. The reader stops
    at the end of the cells too."""
    carry = b""
    started = False
    for chunk in _inflate(data, info, MAX_SHEET_XML, _SHEET_CHUNK):
        buf = carry + chunk if carry else chunk
        if b"<!" in buf or b"<?" in buf:
            buf = _HIDDEN.sub(b" ", buf)
        if not started:
            at = buf.find(b"sheetData")  # a plain search first: the pattern alone tries every "<"
            m = _SHEET_DATA.search(buf, max(0, at - 64)) if at >= 0 else None
            if not m:
                carry = buf[-64:]
                continue
            if buf[m.end() - 1:m.end()] == b"/":
                return  # <sheetData/>: no cells
            buf, started = buf[m.start():], True
        # a comment, CDATA section or processing instruction that goes on in the next chunk
        unfinished = min((at for at in (buf.find(b"<!"), buf.find(b"<?")) if at >= 0), default=-1)
        cut = unfinished if unfinished >= 0 else buf.rfind(b"<")
        piece, carry = (buf[:cut], buf[cut:]) if cut > 0 else (b"", buf)
        if len(carry) > MAX_GAP:
            raise LimitError(TOO_BIG)
        end = _cells_end(piece)
        if end >= 0:
            yield piece[:end]
            return
        if piece:
            yield piece
    if started and carry:
        end = _cells_end(carry)
        yield carry[:end] if end >= 0 else carry


def _small_cells(data: bytes, info: zipfile.ZipInfo) -> tuple[bytes, int, int] | None:
    """The cells' XML of a sheet whose cells end within its first ~``_SHEET_CHUNK`` bytes (the
    common case: a report's sheet), inflated a few KB at a time and no further than the end of the
    cells, as (inflated bytes, start, end) — no copy — or None when the streamed path must decide
    (a larger sheet, a prefix, a comment or CDATA section, anything unusual)."""
    if info.compress_type != zipfile.ZIP_DEFLATED or info.flag_bits & 0x1:
        return None
    at = info.header_offset
    if at < 0 or data[at:at + 4] != b"PK\x03\x04":
        return None
    name_len, extra_len = struct.unpack_from("<HH", data, at + 26)
    start = at + 30 + name_len + extra_len
    inflater = zlib.decompressobj(-15)
    size = 4 * KIB  # most of a report's sheets end their cells within 4 KB; then 8, 16 KB at most
    try:
        out = inflater.decompress(memoryview(data)[start:start + info.compress_size], size)
        while out.find(b"</sheetData", max(0, len(out) - size - 12)) < 0:
            if len(out) >= _SHEET_CHUNK or inflater.eof or not inflater.unconsumed_tail:
                return None
            size *= 2
            out += inflater.decompress(inflater.unconsumed_tail, size)
    except zlib.error:
        return None
    begin = out.find(b"<sheetData>")
    end = out.find(b"</sheetData>", begin) if begin >= 0 else -1
    if end < 0:
        return None
    # a comment, CDATA section or processing instruction ("<!", "<?") among the cells: the streamed
    # path takes them out. "!" and "?" are rare in cells and found fast; "<" (any tag) would stop a
    # search for "<!" at every tag
    for mark in (b"!", b"?"):
        at = out.find(mark, begin, end)
        while at >= 0:
            if out[at - 1] == 0x3C:  # "<"
                return None
            at = out.find(mark, at + 1, end)
    return out, begin, end


def _cells_end(piece: bytes) -> int:
    """Where ``</sheetData>`` starts in ``piece`` (which starts at or after the opening tag), or -1.
    A plain search for the name first: the pattern alone would try at every closing tag."""
    at = piece.find(b"sheetData", 10)
    while at >= 0:
        m = _SHEET_DATA_END.search(piece, max(0, at - 64), at + 64)
        if m:
            return m.start()
        at = piece.find(b"sheetData", at + 1)
    return -1


def _largest(data: bytes, infos: list[zipfile.ZipInfo], name: str) -> Extent:
    """The largest extent among a sheet's entries; raises ``LimitError`` when it is too large."""
    extent = Extent()
    for info in infos:
        found = _extent(data, info)
        if found.cells > MAX_CELLS or found.rows > MAX_ROWS or found.cols > EXCEL_COLS:
            raise LimitError(f"文件内容异常（“{name}”工作表的数据区域过大，延伸到 {found.corner()}），不是正常的年报工作簿")
        extent = found if found.cells > extent.cells else extent
    return extent


def _extent(data: bytes, info: zipfile.ZipInfo) -> Extent:
    """Fast path: when every row and cell tag starts with a small reference, the grid is at most
    999 rows by 702 columns (700,000 cells, within bounds) and nothing more needs computing.
    Otherwise the sheet is read again and every cell placed as the reader places it."""
    small = _small_cells(data, info)
    pieces = (small,) if small is not None else ((piece, 0, len(piece)) for piece in _segments(data, info))
    for piece, start, end in pieces:
        if _UNUSUAL_CELL.search(piece, start, end) or _PREFIXED_CELL.search(piece, start, end):
            return _exact(data, info)
    return Extent(999, 702)  # an upper bound, within bounds: the exact corner is not needed


def _exact(data: bytes, info: zipfile.ZipInfo) -> Extent:
    """Place every cell as the reader does: a cell's ``r`` sets its position (and the column
    counter); a cell without one takes the current row and the next column; a row's ``r`` sets the
    row counter, the end of a row advances it. Only cells that can hold a value count (an empty
    ``<c …/>`` is skipped by the reader)."""
    row = col = 0
    top = right = 0
    for piece in _segments(data, info):
        for m in _TAG.finditer(piece):
            closing, kind, attrs = m[1], m[2], m[3]
            empty = attrs.endswith(b"/")
            if kind == b"row":
                if closing:
                    row, col = row + 1, 0
                    continue
                r = _R.search(attrs)
                ref = _REF.fullmatch((r[1] if r[1] is not None else r[2]).strip()) if r else None
                if ref:
                    row = _row(ref[2])
                if empty:
                    row, col = row + 1, 0
                continue
            if closing:
                continue
            r = _R.search(attrs)
            ref = _REF.fullmatch((r[1] if r[1] is not None else r[2]).strip()) if r else None
            if ref:
                at_row, col = _row(ref[2]), _col(ref[1])
            else:
                at_row = row
            if not empty:
                top, right = max(top, at_row + 1), max(right, col + 1)
            col += 1
    return Extent(top, right)


def _row(digits: bytes) -> int:
    """0-based row of a reference's digits; absurdly long numbers become “beyond any sheet”."""
    return max(int(digits), 1) - 1 if len(digits) <= 9 else EXCEL_ROWS * 1000


def _col(letters: bytes) -> int:
    n = 0
    for ch in letters.upper()[:8]:
        n = n * 26 + ch - 64
    return max(n, 1) - 1 if len(letters) <= 8 else EXCEL_COLS * 26


_TAGS = {kind: (re.compile(rb"<" + kind + rb"\s([^>]*)>"), re.compile(rb"<(?:[\w.-]+:)?" + kind + rb"\s([^>]*)>"))
         for kind in (b"sheet", b"Relationship")}
_VALUE = re.compile(rb"""\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_SPACE = frozenset(b" \t\r\n")


def _attr(attrs: bytes, key: bytes) -> bytes:
    """The value of attribute ``key`` in a tag's attribute text (b"" when absent). ``key`` starting
    with ``:`` matches that name under any prefix (``r:id``). A plain search for the name first: a
    pattern without a literal start would be tried at every byte."""
    at = attrs.find(key)
    while at >= 0:
        before = attrs[at - 1] if at else 32
        if (before not in _SPACE) == key.startswith(b":"):
            m = _VALUE.match(attrs, at + len(key))
            if m:
                return m[1] if m[1] is not None else m[2]
        at = attrs.find(key, at + 1)
    return b""


def _tags(data: bytes, kind: bytes, *keys: bytes) -> list[tuple[bytes, ...]]:
    """The values of ``keys`` in every ``<kind …>`` tag, by a plain scan: a pattern with a literal
    start, unless the part gives its elements a prefix."""
    plain, prefixed = _TAGS[kind]
    return [tuple(_attr(attrs, key) for key in keys)
            for attrs in (prefixed if b":" + kind in data else plain).findall(data)]


__all__ = ["Extent", "LimitError", "Package", "check_directory", "check_package", "MAX_CELLS", "MAX_SHEETS", "TOO_BIG"]
