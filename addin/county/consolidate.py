"""Year-end consolidation: many units' workbooks into one summary, with nothing lost or counted twice.

The flow is a pipeline over compact per-file records, never over a county's worth of ``Report``
objects: files are read and validated in chunks (in worker processes when there are many), each
chunk leaving behind one ``Source`` per file (cover, findings, hash) and one row of input numbers
per unit. Only then is it decided which file stands for which unit (year, edition, hierarchy,
register, duplicates, scope, ``--strict``) — decisions need every file — and the chosen rows are
summed. Memory therefore grows by about 2 KB per unit, not by a workbook per unit.

Totals are never summed from the units' stored totals: the summary's derived cells are recomputed
from the summed inputs (``derive_totals``), exactly like a unit's own.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
import tempfile
import time
from collections import Counter, defaultdict
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from checks.engine import to_matrices, validate_reports
from checks.files import expand
from workbook.isolate import Budget, Failed, auto_workers, chunked, default_budget, preload, run_chunks, tick
from workbook.read import ReadError, read_report
from workbook.report import SCOPES, Member, Report, derive_totals
from workbook.spec import Edition, edition_for_year

from addin.county.decide import (_set, check_hierarchy, check_year, dedupe, load_previous, match_register,
                                 register_status, target_year)
from addin.county.model import (STATUS, ConsolidateOptions, ConsolidationResult, Source, _input_index,
                                derivation, input_ids, row_blocks)
from addin.county.register import (ConsolidationError, Register, RegisterError, UnitIndex, county_government_type,
                                   load_register, norm_name, parse_date)
from addin.county.unitfile import formula_inputs, has_macros
from addin.publish.draft import TEXT_KEY, draft_text
from addin.publish.safety import safe_name

MACRO_SUFFIXES = (".xlsm", ".xltm")
COVER_KEPT = frozenset({"unit_name", "credit_code", "region_code", "unit_type", "parent", "year", "date"})
MAX_CHUNK = 1000
Progress = Callable[[int, int], None]












# --------------------------------------------------------------------------------------------
# Reading and validating, in chunks, in worker processes (``workbook.isolate``)
# --------------------------------------------------------------------------------------------

_PREVIOUS: UnitIndex[Report] = UnitIndex()
preload(__name__)  # a fork server (the add-in server's) imports this, and pandas, once — not every worker


def _init_worker(previous: UnitIndex[Report]) -> None:
    global _PREVIOUS
    _PREVIOUS = previous


def _previous_for(rep: Report) -> Report | None:
    return _PREVIOUS.find(rep.unit, rep.cover.get("credit_code", ""))


Spooled = dict[str, tuple[str, int]]


def _stat(src: Source) -> Source:
    try:
        st = Path(src.file).stat()
        src.size, src.mtime = st.st_size, st.st_mtime
    except OSError:
        pass
    return src


def read_chunk(items: Sequence[tuple[int, str]], spool: str) -> tuple[list[Source], Spooled]:
    """Read and validate a chunk of files (in a worker process). Returns their records and, per
    edition, the spool file holding one row of input numbers per readable file (``Source.row``
    indexes it) — the numbers go to disk, not through the pipe, and are read back only for the
    units finally summed."""
    sources: list[Source] = []
    groups: dict[str, list[tuple[Source, Report]]] = defaultdict(list)
    for order, name in items:
        path = Path(name)
        src = _stat(Source(name, order))
        try:
            rep = read_report(path)
        except ReadError as exc:
            src.error, src.error_code = exc.reason, exc.code
        else:
            src.sha256, src.edition, src.origin = rep.sha256, rep.edition_key, rep.source
            src.cover = {k: sys.intern(v) if len(v) < 20 else v for k, v in rep.cover.items() if k in COVER_KEPT}
            src.members = rep.members
            ed = rep.edition
            defaults = {t.key: t.sheet for t in ed.tables} | {"cover": ed.cover_sheet}
            if any(defaults.get(k) != v for k, v in rep.sheet_names.items()):
                src.sheet_names = dict(rep.sheet_names)
            src.macro = path.suffix.lower() in MACRO_SUFFIXES and has_macros(path)
            src.formulas, src.uncached = formula_inputs(path, rep)
            groups[rep.edition_key].append((src, rep))
        sources.append(src)
        tick()  # one more file done: progress, and the time limit is per file
    values: Spooled = {}
    for key, group in groups.items():
        reports = [rep for _, rep in group]
        previous = [_previous_for(r) for r in reports] if _PREVIOUS.by_name or _PREVIOUS.by_code else None
        findings = validate_reports(reports, previous if previous and any(previous) else None)
        X = to_matrices(key, reports).values[:, _input_index(key)]
        bad = np.isnan(X).sum(axis=1)
        for k, (src, _) in enumerate(group):
            src.findings, src.row, src.invalid = findings[k] or (), k, int(bad[k])
        target = Path(spool) / f"{items[0][0]:09d}-{key}.f64"
        np.ascontiguousarray(X, dtype=np.float64).tofile(target)
        values[key] = (str(target), len(X))
    return sources, values


def _chunks(paths: Sequence[Path], workers: int) -> list[list[tuple[int, str]]]:
    return chunked([(i, str(p)) for i, p in enumerate(paths)], workers, MAX_CHUNK)


def read_all(paths: Sequence[Path], workers: int, spool: Path, previous: UnitIndex[Report] | None = None,
             progress: Progress | None = None, budget: Budget | None = None
             ) -> tuple[list[Source], dict[str, list[tuple[str, int]]]]:
    """Every file's record (in input order) and, per edition, the spool files of value rows.

    The files are units' — untrusted — so they are read in worker processes with a memory and a
    time limit (``workbook.isolate``), also when only one worker is wanted and also inside the
    add-in server (whose threads rule out a plain fork: a fork server is used there). A file that
    crashes, hangs or exhausts its worker is that file's “无法读取” record; every other file is
    read and summed as usual."""
    previous = previous or UnitIndex()
    budget = budget or default_budget()
    report = (lambda done: progress(done, len(paths))) if progress else None
    results: list[tuple[list[Source], Spooled]] = []
    for items, outcome in run_chunks(partial(read_chunk, spool=str(spool)), _chunks(paths, workers), workers,
                                     budget=budget, initializer=_init_worker, initargs=(previous,), progress=report):
        if isinstance(outcome, Failed):
            failed = [_stat(Source(name, order, error=outcome.reason, error_code=outcome.code)) for order, name in items]
            results.append((failed, {}))
        else:
            results.append(outcome)
    _init_worker(UnitIndex())  # in case the work ran in this process (no worker could be started)
    sources: list[Source] = []
    store: dict[str, list[tuple[str, int]]] = defaultdict(list)
    offsets: dict[str, int] = defaultdict(int)
    for chunk_sources, values in results:
        for src in chunk_sources:
            if src.row >= 0:
                src.row += offsets[src.edition]
        for key, (file, n) in values.items():
            store[key].append((file, n))
            offsets[key] += n
        sources += chunk_sources
    sources.sort(key=lambda s: s.order)  # a retried chunk comes back in pieces
    return sources, store




def take_rows(parts: list[tuple[str, int]], rows: Sequence[int], width: int) -> np.ndarray:
    """The chosen rows, read back from the spool files one file at a time."""
    out = np.empty((len(rows), width))
    wanted = sorted(range(len(rows)), key=rows.__getitem__)
    start, k = 0, 0
    for file, n in parts:
        end = start + n
        if k < len(wanted) and rows[wanted[k]] < end:
            chunk = np.fromfile(file, dtype=np.float64).reshape(n, width)
            while k < len(wanted) and rows[wanted[k]] < end:
                out[wanted[k]] = chunk[rows[wanted[k]] - start]
                k += 1
        start = end
    return out


# --------------------------------------------------------------------------------------------
# Deciding which file stands for which unit
# --------------------------------------------------------------------------------------------

# --------------------------------------------------------------------------------------------
# The result, and the whole run
# --------------------------------------------------------------------------------------------



def _summary_cover(ed: Edition, name: str, year: int, included: Sequence[Source], register: Register | None) -> dict[str, str]:
    entry = register.entry_for(name) if register else None
    regions = {s.cover.get("region_code", "") for s in included}
    unit_type = entry.unit_type if entry and entry.unit_type else (
        county_government_type(ed.key) if re.search(r"[县区旗]人民政府$", name) else "其他")
    return {"unit_name": name, "credit_code": entry.code if entry else "", "region_code": regions.pop() if len(regions) == 1 else "",
            "unit_type": unit_type, "parent": entry.parent if entry else "", "year": str(year), "preparer": "", "phone": "",
            "date": dt.date.today().isoformat()}


def build_summary(ed: Edition, name: str, year: int, scope: str, included: Sequence[Source], detail: np.ndarray,
                  register: Register | None) -> Report:
    """The summary as a report: inputs summed over the included units, totals recomputed."""
    ids = input_ids(ed.key)
    sums = np.zeros(len(ids))
    for block in row_blocks(detail):
        sums += block.sum(axis=0)
    raw: dict[str, Any] = {}
    for cid, v in zip(ids, sums.tolist()):
        raw[cid] = round(v, 6)  # float noise away; a fraction a unit typed into a count stays visible
    raw.update(derive_totals(ed, raw))
    members: list[Member] = []
    for s in included:
        members += s.leaves
    report = Report(ed.key, cover=_summary_cover(ed, name, year, included, register), raw=raw, source="summary",
                    members=tuple(members), scope=scope)
    # 一、总体情况: what was summed (consolidation's own), then the data paragraph exactly as
    # ``nianbao draft`` writes it from the tables — on a line of its own, so that a later
    # ``nianbao draft`` on the summary recognises and replaces it rather than adding another.
    report.texts[TEXT_KEY] = "\n".join((
        f"本表由 {len(included)} 个单位报送的 {year}年度政府信息公开工作年度报告汇总而成，汇总范围：{SCOPES[scope]}。",
        draft_text(report),
        "（以上为汇总自动生成的说明，请据实补充完善。）"))
    return report


def _summary_name(options: ConsolidateOptions, register: Register | None, included: Sequence[Source]) -> str:
    if options.name:
        return options.name.strip()
    parents = Counter(e.parent for e in register.entries if e.parent) if register else Counter()
    if not parents:
        parents = Counter(s.cover.get("parent", "") for s in included if s.cover.get("parent"))
    if parents:
        return parents.most_common(1)[0][0]
    raise ConsolidationError("无法确定汇总单位的名称：请用 --name 指定，如 --name 青禾县人民政府")


def _is_our_summary(path: Path) -> bool:
    try:
        return read_report(path).source == "summary"
    except ReadError:
        return False


def check_output(output: Path, inputs: Sequence[Path], options: ConsolidateOptions) -> None:
    """Refuse to write over anything the run reads: a unit's file among the inputs (it would be
    dropped from the sum and replaced by the summary, silently), the register or last year's
    summary. Our own earlier summary at that place is fine: it is replaced, and not summed."""
    out = Path(output).resolve()
    written = {out} | {out.with_suffix(f".{fmt}") for fmt, wanted in (("csv", options.csv), ("json", options.json)) if wanted}
    for what, given in (("单位名单（--units）", options.units), ("上年汇总表（--previous）", options.previous)):
        if given is not None and Path(given).resolve() in written:
            raise ConsolidationError(f"输出文件会覆盖{what} {given}：请用 -o 另选一个文件名")
    if out.exists() and any(Path(p).resolve() == out for p in inputs) and not _is_our_summary(out):
        raise ConsolidationError(f"输出文件 {output} 是要汇总的文件之一（不是以前生成的汇总表），写出汇总表会覆盖它、"
                                 f"该单位也不会被汇总：请用 -o 另选一个文件名，如 {out.parent.parent / '汇总.xlsx'}")


def default_output(result: ConsolidationResult) -> Path:
    """Where the summary goes without ``-o``: the working folder, named after the summary unit and
    the year. The unit name may come from a unit's cover (上级单位), so it is made a plain file
    name first: “../../x” or “a/b” cannot lead the file anywhere else."""
    name = safe_name(f"{result.name}{result.year}年度汇总.xlsx", f"{result.year}年度汇总.xlsx", strip_path=False)
    return Path.cwd() / name


def consolidate(inputs: Iterable[Path], output: Path | None, options: ConsolidateOptions | None = None,
                progress: Progress | None = None) -> ConsolidationResult:
    """Consolidate ``inputs`` (files and folders) into ``output`` (None: compute only, e.g. for the
    add-in, which writes the sheets into an open workbook). Raises ``ConsolidationError`` when it
    cannot run; every problem with a single file is reported in the result instead."""
    options = options or ConsolidateOptions()
    inputs = [Path(p) for p in inputs]
    clock = {"start": time.perf_counter()}
    if options.scope not in SCOPES:
        raise ConsolidationError(f"--scope 只能是 all（全部单位）或 self（本级），不能是“{options.scope}”")
    if output is not None and Path(output).suffix.lower() != ".xlsx":
        raise ConsolidationError(f"汇总表应保存为 .xlsx 文件（不能是“{Path(output).suffix or '无扩展名'}”）")
    if output is not None and Path(output).is_dir():
        raise ConsolidationError(f"输出位置 {output} 是一个文件夹，请给出文件名，如 {Path(output) / '汇总.xlsx'}")
    try:
        register = load_register(options.units) if options.units else None
    except RegisterError as exc:
        raise ConsolidationError(str(exc)) from None
    missing_inputs = [p for p in inputs if not Path(p).exists()]
    if missing_inputs:
        raise ConsolidationError("找不到输入：" + "、".join(str(p) for p in missing_inputs))
    paths = expand(inputs)
    if output is not None:
        check_output(Path(output), paths, options)
        out = Path(output).resolve()
        paths = [p for p in paths if p.resolve() != out]  # our earlier summary there: replaced, not summed
    if not paths:
        raise ConsolidationError("输入中没有任何 Excel 文件（.xlsx）")
    prev_summary, prev_units = load_previous(Path(options.previous)) if options.previous else (None, UnitIndex())
    workers = options.workers if options.workers and options.workers > 0 else auto_workers(len(paths))
    with tempfile.TemporaryDirectory(prefix="nianbao-spool-") as spool:
        sources, store = read_all(paths, workers, Path(spool), prev_units, progress)
        clock["read"] = time.perf_counter()
        result = _decide(options, register, sources, store, prev_summary)
    clock["decide"] = time.perf_counter()
    if output is not None:
        save(result, Path(output))
    clock["write"] = time.perf_counter()
    result.timings = {"读取与校验": clock["read"] - clock["start"], "判定与合计": clock["decide"] - clock["read"],
                      "写出": clock["write"] - clock["decide"]}
    return result


def _decide(options: ConsolidateOptions, register: Register | None, sources: list[Source],
            store: dict[str, list[tuple[str, int]]], prev_summary: Report | None) -> ConsolidationResult:
    """Which file stands for which unit, then the sums and the summary's own findings."""
    year = target_year(sources, options.year)
    ed = edition_for_year(year)
    check_year(sources, year, ed)
    candidates = [s for s in sources if not s.status]
    for s in sources:
        if s.status in ("wrong_year", "wrong_edition") and register is not None:
            s.entry = register.find(s.name, s.code)[0]
    problems = check_hierarchy(candidates)
    if problems:
        raise ConsolidationError("同时给出了汇总表和其中的单位，会重复计算，已拒绝汇总：\n  " + "\n  ".join(problems)
                                 + "\n请去掉其中之一后重新汇总。")
    match_register(candidates, register)
    chosen = dedupe(candidates)
    name = _summary_name(options, register, [s for s in chosen if s.origin != "summary"] or chosen)
    self_entry = register.entry_for(name) if register else None
    own = county_government_type(ed.key)
    for s in chosen:
        if register is not None and s.entry is None:
            _set(s, "unlisted", (s.reason + "；" if s.reason else "") + f"单位“{s.name}”不在单位名单 {register.path.name} 中")
        elif options.scope == "self" and not (s.unit_type == own or (self_entry and s.entry is self_entry)
                                              or norm_name(s.name) == norm_name(name)):
            _set(s, "out_of_scope", f"本次只汇总本级（{own}），{s.unit_type}不在范围内")
        elif options.strict and s.hard:
            _set(s, "strict", f"有 {s.hard} 处错误，按 --strict 未汇总；请退回该单位改正后重新报送")
        else:
            s.status = "summed"
    included = [s for s in chosen if s.status == "summed"]
    if register is not None:
        order = {id(e): e.line for e in register.entries}
        included.sort(key=lambda s: (order.get(id(s.entry), 10**9), s.order))
    if not included:
        raise ConsolidationError("没有可以汇总的单位：" + "；".join(f"{s.path.name}：{STATUS[s.status]}" for s in sources[:10]))
    detail = take_rows(store.get(ed.key, []), [s.row for s in included], len(input_ids(ed.key)))
    summary = build_summary(ed, name, year, options.scope, included, detail, register)
    summary_findings = validate_reports([summary], [prev_summary] if prev_summary is not None else None)[0]
    result = ConsolidationResult(options, year, ed, name, sources, included, detail, summary, summary_findings, register)
    if register is not None:
        register_status(result, self_entry)
    return result


def save(result: ConsolidationResult, output: Path) -> ConsolidationResult:
    """Write the summary workbook (and the long format when asked) for a computed result."""
    from addin.county.summary import write_long, write_summary

    result.output = write_summary(result, Path(output))
    result.written.append(result.output)
    for fmt, wanted in (("csv", result.options.csv), ("json", result.options.json)):
        if wanted:
            result.written.append(write_long(result, Path(output).with_suffix(f".{fmt}"), fmt))
    return result


__all__ = ["ConsolidateOptions", "ConsolidationError", "ConsolidationResult", "Source", "STATUS", "SCOPES",
           "check_output", "consolidate", "default_output", "formula_inputs", "save", "derivation", "row_blocks", "input_ids", "read_all", "read_chunk", "parse_date"]
