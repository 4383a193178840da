"""The template's live checks and the Python checks agree, as LibreOffice computes them.

Wrong reports of both editions are written with their stored totals as values (so wrong totals
exist, as in a published report), LibreOffice recalculates every formula of the hidden ``_checks``
sheet (columns: rule, cell address, TRUE = fails), and the set of (rule, address) it marks TRUE
must be exactly the set of (rule, location) the Python checks report — for every rule that has a
live formula. The seed report, with its real mistakes, is compared the same way.

Text typed into a number cell is outside this comparison on purpose: a spreadsheet's SUM skips
text, while the Python checks read “５” as 5 and report the normalisation (R0.4) instead.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import openpyxl
import pytest

from checks import validate_report
from workbook import office
from workbook.build import BuildOptions, write_report
from workbook.livecheck import live_rule_ids
from workbook.office import recalculate
from workbook.read import read_report
from workbook.report import Report
from workbook.samples import county_units, fake_report, seed_report
from workbook.spec import EDITIONS, load_edition

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "samples" / "宁海县交通运输局2020年政府信息公开工作年度报告.xlsx"

pytestmark = pytest.mark.skipif(shutil.which("soffice") is None,
                                reason="LibreOffice (soffice) is not installed: no spreadsheet application "
                                       "can compute the live checks (apt-get install libreoffice-calc-nogui)")

# Which mistakes each generated file carries: together they exercise every live rule.
PLANS: dict[str, list[tuple[str, ...]]] = {
    "2021": [("negative", "imbalance", "stored_total", "review_total"),
             ("fraction", "money_negative", "r45", "after_total", "negative_part4"),
             ("negative", "negative", "stored_total", "blank", "fraction")],
    "2019": [("r23", "signed_fraction", "imbalance", "direct_total"),
             ("negative", "stored_total", "r45", "money_negative", "review_total", "negative_part4"),
             ("fraction", "r23", "stored_total", "blank")],
}


def consistent(edition: str, seed: int) -> Report:
    """A generated unit's report (stored totals computed here by walking ``cell.items``)."""
    ed = load_edition(edition)
    unit = county_units(seed=seed, n=14)[seed % 14]
    report = fake_report(unit, 2026 if edition == "2021" else 2020, seed=seed)

    def total(cid: str) -> float:
        cell = ed.cell(cid)
        return report.raw[cid] if cell.role == "input" else sum(total(i) for i in cell.items)

    for cell in ed.derived_cells:
        report.raw[cell.id] = total(cell.id)
    return report


def apply(report: Report, mistake: str, rng: random.Random) -> None:
    ed = report.edition
    raw = report.raw
    inputs = [c for c in ed.input_cells]
    if mistake == "negative":
        c = rng.choice([c for c in inputs if c.kind == "count"])
        raw[c.id] = -rng.randint(1, 9)
    elif mistake == "fraction":
        c = rng.choice([c for c in inputs if c.kind == "count"])
        raw[c.id] = float(raw[c.id]) + 0.5
    elif mistake == "signed_fraction":
        c = rng.choice([c for c in inputs if c.kind == "signed"])
        raw[c.id] = float(raw[c.id]) - 0.5
    elif mistake == "money_negative":
        c = rng.choice([c for c in inputs if c.kind == "money"])
        raw[c.id] = -1.25
    elif mistake == "imbalance":
        col = rng.choice([c.key for c in ed.table("part3").blocks[0].columns][:-1])
        raw[f"part3.main.new.{col}"] += rng.randint(1, 4)
    elif mistake == "stored_total":
        c = rng.choice(list(ed.derived_cells))
        raw[c.id] += rng.choice([-2, -1, 1, 3])
    elif mistake == "r23":
        row = rng.choice(["rules", "normative"])
        raw[f"part2.a1.{row}.made"] = raw[f"part2.a1.{row}.total"] + rng.randint(1, 5)
    elif mistake == "r45":
        for col in ("review_upheld", "review_corrected", "review_other", "review_pending", "review_total"):
            raw[f"part4.main.cases.{col}"] = 0
        raw["part4.main.cases.after_upheld"] = 2
        raw["part4.main.cases.after_total"] = 2 + sum(raw[f"part4.main.cases.after_{k}"]
                                                      for k in ("corrected", "other", "pending"))
    elif mistake == "negative_part4":
        raw["part4.main.cases.direct_other"] = -1
    elif mistake in {"review_total", "direct_total", "after_total"}:
        raw[f"part4.main.cases.{mistake}"] += 1
    elif mistake == "blank":
        c = rng.choice([c for c in inputs if raw[c.id] == 0])
        raw[c.id] = None
    else:
        raise AssertionError(mistake)


def checks_marked(path: Path) -> tuple[set[tuple[str, str]], int]:
    """(rule, address) of every row of the recalculated ``_checks`` sheet that reads TRUE, and how
    many rows it has — read with openpyxl (cached values only, as LibreOffice stored them)."""
    wb = openpyxl.load_workbook(path, data_only=True, read_only=True)
    try:
        rows = list(wb["_checks"].iter_rows(min_row=2, values_only=True))
    finally:
        wb.close()
    values = {r[2] for r in rows}
    assert values <= {True, False}, f"_checks has non-boolean results after recalculation: {values - {True, False}}"
    return {(str(r[0]), str(r[1])) for r in rows if r[2] is True}, len(rows)


def recalculate_all(sources: list[Path], outdir: Path) -> list[Path]:
    """Recalculated copies of several workbooks from ONE LibreOffice run (about 2 s for all,
    against 1–2 s per file), with the profile setting that forces recalculation on load."""
    return office.convert_many(sources, "xlsx", outdir)


@pytest.fixture(scope="module")
def recalculated(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, Path, Path]]:
    """(edition, file as written, LibreOffice's recalculated copy) for every wrong report."""
    work = tmp_path_factory.mktemp("live")
    jobs: list[tuple[str, Path]] = []
    for edition, plans in PLANS.items():
        for n, plan in enumerate(plans):
            rng = random.Random(f"{edition}-{n}")
            report = consistent(edition, seed=11 * n + len(edition))
            for mistake in plan:
                apply(report, mistake, rng)
            jobs.append((edition, write_report(report, work / "in" / f"{edition}-{n}.xlsx", BuildOptions(derived="value"))))
    # the seed report, written afresh from its transcription by the current builder
    jobs.append(("2019", write_report(seed_report(ROOT / "samples"), work / "in" / SEED.name,
                                      BuildOptions(derived="value"))))
    outs = recalculate_all([src for _, src in jobs], work / "out")
    return [(edition, src, out) for (edition, src), out in zip(jobs, outs)]


def test_one_file_through_the_project_recalculation(tmp_path: Path) -> None:
    """``workbook.office.recalculate`` (one file per call) gives the same verdicts as the batch."""
    report = consistent("2021", seed=5)
    apply(report, "stored_total", random.Random(1))
    src = write_report(report, tmp_path / "one.xlsx", BuildOptions(derived="value"))
    marked, _ = checks_marked(recalculate(src, tmp_path / "out"))
    python = {(f.rule, f.location) for f in validate_report(read_report(src)) if f.rule in live_rule_ids("2021")}
    assert marked and marked == python


def test_live_checks_agree_with_python(recalculated: list[tuple[str, Path, Path]]) -> None:
    seen: dict[str, set[str]] = {key: set() for key in EDITIONS}
    for edition, original, out in recalculated:
        live = live_rule_ids(edition)
        marked, rows = checks_marked(out)
        assert rows > 100
        python = {(f.rule, f.location) for f in validate_report(read_report(original)) if f.rule in live}
        assert marked, f"{original.parent.name}: LibreOffice marks nothing failed in a wrong report"
        assert marked == python, (f"{original.parent.name}: only LibreOffice: {sorted(marked - python)}; "
                                  f"only Python: {sorted(python - marked)}")
        seen[edition] |= {rule for rule, _ in marked}
    for edition in EDITIONS:
        assert seen[edition] == set(live_rule_ids(edition)), f"{edition}: not exercised {live_rule_ids(edition) - seen[edition]}"


def test_recalculated_copy_reads_the_same_numbers(recalculated: list[tuple[str, Path, Path]]) -> None:
    """LibreOffice kept the values (it recalculated formulas, it did not retype numbers), so the
    Python findings on its copy are those of the original."""
    for _, original, out in recalculated[:2]:
        a = {(f.rule, f.location, f.found) for f in validate_report(read_report(original))}
        b = {(f.rule, f.location, f.found) for f in validate_report(read_report(out))}
        assert a == b


def test_every_live_rule_exists_in_the_spec() -> None:
    for edition in EDITIONS:
        ids = {r.id for r in load_edition(edition).rules}
        assert live_rule_ids(edition) <= ids
        assert {"R3.1", "R3.2", "R3.3", "R4.1", "R4.2", "R4.3"} <= live_rule_ids(edition)
