"""Sample reports: the seed report transcribed from its published text, and a seeded fictional
county whose units are realistic — consistent numbers, with a few real-world mistakes.

Tests, benchmarks and the README's demo all draw their workbooks from here, so a generated unit
is the same everywhere for the same seed.
"""

from __future__ import annotations

import random
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .codes import credit_check_char
from .report import Report
from .spec import Edition, cell_id, edition_for_year, load_edition

MISTAKES = ("imbalance", "blanks", "placeholder", "fullwidth", "negative", "rules_township", "stale_carry",
            "token_problems", "text_mismatch")


TEXT_MISTAKES = frozenset({"token_problems", "text_mismatch"})


def load_transcription(path: Path) -> Report:
    """A report written down cell by cell in TOML (rows as lists in the spec's column order)."""
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    ed = load_edition(data["edition"])
    report = Report(ed.key, cover=dict(data.get("cover", {})), texts=dict(data.get("texts", {})),
                    source=data.get("source", "published"))
    for table in ed.tables:
        for block in table.blocks:
            rows = data.get(table.key, {})
            rows = rows.get(block.key, {}) if table.key == "part2" else rows
            for row in block.rows:
                values = rows.get(row.key, [])
                for col, value in zip(block.columns, values):
                    report.raw[cell_id(table.key, block.key, row.key, col.key)] = value
    return report


@dataclass(frozen=True)
class Unit:
    """A unit of the fictional county."""

    name: str
    unit_type: str
    code: str
    parent: str
    size: int


def credit_code(rng: random.Random, region: str) -> str:
    """A well-formed credit code for a government body (11 = 机构编制 · 机关) in ``region``."""
    body = "11" + region + "".join(rng.choice("0123456789") for _ in range(8)) + rng.choice("0123456789X")
    body = body.replace("X", "0")
    return body + credit_check_char(body)


COUNTY = "青禾县"
REGION = "339901"
_UNITS: tuple[tuple[str, str, int], ...] = (
    ("青禾县人民政府办公室", "县级人民政府", 30),
    ("青禾县发展和改革局", "县级政府部门", 12),
    ("青禾县教育局", "县级政府部门", 15),
    ("青禾县公安局", "县级政府部门", 25),
    ("青禾县自然资源和规划局", "县级政府部门", 40),
    ("青禾县住房和城乡建设局", "县级政府部门", 20),
    ("青禾县市场监督管理局", "县级政府部门", 18),
    ("青禾县卫生健康局", "县级政府部门", 10),
    ("青禾县交通运输局", "县级政府部门", 8),
    ("青禾县人力资源和社会保障局", "县级政府部门", 9),
    ("青禾县城关镇人民政府", "乡镇人民政府", 6),
    ("青禾县桥头镇人民政府", "乡镇人民政府", 4),
    ("青禾县西溪乡人民政府", "乡镇人民政府", 2),
    ("青禾县跃龙街道办事处", "街道办事处", 5),
)


def county_units(seed: int = 2026, n: int | None = None) -> list[Unit]:
    """The fictional county's units; with ``n`` larger than the list, numbered extra units."""
    rng = random.Random(seed)
    base = list(_UNITS)
    count = n or len(base)
    out = []
    for i in range(count):
        name, utype, size = base[i % len(base)]
        if i >= len(base):
            name = name.replace(COUNTY, f"{COUNTY}第{i // len(base) + 1}片区")
        out.append(Unit(name, utype, credit_code(rng, REGION), f"{COUNTY}人民政府", size))
    return out


def _split(rng: random.Random, total: int, parts: int) -> list[int]:
    cuts = sorted(rng.randint(0, total) for _ in range(parts - 1))
    return [b - a for a, b in zip([0, *cuts], [*cuts, total])]


def fake_report(unit: Unit, year: int, seed: int, mistakes: frozenset[str] = frozenset(),
                previous: Report | None = None, edition: Edition | None = None) -> Report:
    """A consistent report for ``unit``, then the named ``mistakes`` applied (see ``MISTAKES``)."""
    ed = edition or edition_for_year(year)
    rng = random.Random(f"{seed}:{unit.name}:{year}")
    raw: dict[str, Any] = {}
    p3 = ed.table("part3").blocks[0]
    outcome_rows = [r.key for r in p3.rows if r.key not in {"new", "carried", "total", "carry_next"}]
    weights = [30, 12, 1, 1, 1, 2, 2, 3, 1, 1, 10, 3, 1, 2, 2, 1, 1, 1] + [1] * (len(outcome_rows) - 18)
    for col in p3.columns[:-1]:
        scale = unit.size if col.key == "natural" else max(unit.size // 4, 1)
        new = rng.randint(0, scale)
        carried = 0
        if previous is not None:
            carried = int(previous.numbers[cell_id("part3", "main", "carry_next", col.key)])
        carry_next = rng.randint(0, max((new + carried) // 6, 0))
        handled = new + carried - carry_next
        counts = [0] * len(outcome_rows)
        for _ in range(handled):
            counts[rng.choices(range(len(outcome_rows)), weights=weights)[0]] += 1
        for key, value in [("new", new), ("carried", carried), ("carry_next", carry_next), *zip(outcome_rows, counts)]:
            raw[cell_id("part3", "main", key, col.key)] = value
    for col in ed.table("part4").blocks[0].columns:
        if not col.key.endswith("total"):
            raw[cell_id("part4", "main", "cases", col.key)] = rng.choices([0, 0, 0, 1, 2], k=1)[0] if unit.size > 10 else 0
    for block in ed.table("part2").blocks:
        for row in block.rows:
            for col in block.columns:
                cid = cell_id("part2", block.key, row.key, col.key)
                if row.key == "rules":
                    value: Any = 0
                elif col.kind == "money":
                    value = round(rng.uniform(0, 50), 4) if unit.unit_type != "乡镇人民政府" else 0
                elif col.kind == "signed":
                    value = rng.randint(-5, 10)
                else:
                    value = rng.randint(0, unit.size * 20)
                raw[cid] = value
    if "in_force" in {c.key for c in ed.table("part2").blocks[0].columns}:
        for row in ("rules", "normative"):
            before = int(previous.numbers[cell_id("part2", "a1", row, "in_force")]) if previous else rng.randint(0, 30) * (row != "rules")
            issued = raw[cell_id("part2", "a1", row, "issued")] = 0 if row == "rules" else rng.randint(0, 6)
            repealed = raw[cell_id("part2", "a1", row, "repealed")] = 0 if row == "rules" else rng.randint(0, min(before, 3))
            raw[cell_id("part2", "a1", row, "in_force")] = before + issued - repealed
    cover = {"unit_name": unit.name, "credit_code": unit.code, "region_code": REGION, "unit_type": unit.unit_type,
             "parent": unit.parent, "year": str(year), "preparer": rng.choice(["王芳", "李娜", "张伟", "刘洋", "陈静"]),
             "phone": f"0574-{rng.randint(60000000, 69999999)}", "date": f"{year + 1}-01-{rng.randint(5, 20):02d}"}
    report = Report(ed.key, cover=cover, raw=raw)
    _apply_mistakes(report, mistakes - TEXT_MISTAKES, rng)
    report.texts = _texts(report, year, unit, rng)
    _apply_mistakes(report, mistakes & TEXT_MISTAKES, rng)
    return report


def _texts(report: Report, year: int, unit: Unit, rng: random.Random) -> dict[str, str]:
    n = report.with_totals()
    new = int(n["part3.main.new.total"])
    done = int(n["part3.main.total.total"])
    fee = n.get("part2.a8.fees.amount", 0.0)
    return {
        "overview": (f"{year}年，{unit.name}认真贯彻落实《中华人民共和国政府信息公开条例》，"
                     f"全年共收到政府信息公开申请{new}件，办结{done}件，主动公开工作有序推进。"),
        "problems": ("一是信息公开的及时性有待提高；二是依申请公开答复的规范性还需加强。"
                     "下一步将加强业务培训，完善工作机制，提升公开质量。"),
        "other": (f"本机关{year}年度收取信息处理费 0 元。" if not fee else
                  f"本机关{year}年度依照国办函〔2020〕109号收取信息处理费 0 元；行政事业性收费按规定公示。"),
    }


def _apply_mistakes(report: Report, mistakes: frozenset[str], rng: random.Random) -> None:
    raw = report.raw
    if "imbalance" in mistakes:
        raw["part3.main.new.natural"] = int(raw["part3.main.new.natural"]) + 2
    if "blanks" in mistakes:
        for key in ("withheld_secret", "withheld_law", "withheld_safety"):
            for col in ("business", "research", "nonprofit"):
                if raw[f"part3.main.{key}.{col}"] == 0:
                    raw[f"part3.main.{key}.{col}"] = None
    if "placeholder" in mistakes:
        raw["part3.main.rejected_mass.legal"] = "-" if raw["part3.main.rejected_mass.legal"] == 0 else raw["part3.main.rejected_mass.legal"]
        raw["part3.main.rejected_confirm.legal"] = "/" if raw["part3.main.rejected_confirm.legal"] == 0 else raw["part3.main.rejected_confirm.legal"]
    if "fullwidth" in mistakes:
        value = int(raw["part3.main.public.natural"])
        raw["part3.main.public.natural"] = str(value).translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    if "negative" in mistakes:
        raw["part4.main.cases.review_other"] = -1
    if "rules_township" in mistakes:
        first = next(k for k in raw if k.startswith("part2.a1.rules."))
        raw[first] = 3
    if "stale_carry" in mistakes:
        raw["part3.main.carried.natural"] = int(raw["part3.main.carried.natural"]) + 1
        raw["part3.main.public.natural"] = int(str(raw["part3.main.public.natural"]).translate(
            str.maketrans("０１２３４５６７８９", "0123456789"))) + 1
    if "token_problems" in mistakes:
        report.texts["problems"] = "无"
    if "text_mismatch" in mistakes:
        report.texts["overview"] = report.texts["overview"].replace("申请", "申请", 1).replace("件，办结", "件（含电话咨询），办结", 1)
        n = int(report.with_totals()["part3.main.new.total"])
        report.texts["overview"] = report.texts["overview"].replace(f"收到政府信息公开申请{n}件", f"收到政府信息公开申请{n + 5}件")


@dataclass(frozen=True)
class CountyPlan:
    """Which units of the bundled county carry which mistakes (realistic, and each rule shown)."""

    mistakes: dict[str, frozenset[str]] = field(default_factory=lambda: {
        "青禾县教育局": frozenset({"blanks"}),
        "青禾县公安局": frozenset({"imbalance"}),
        "青禾县住房和城乡建设局": frozenset({"placeholder", "fullwidth"}),
        "青禾县桥头镇人民政府": frozenset({"rules_township", "token_problems"}),
        "青禾县西溪乡人民政府": frozenset({"negative"}),
        "青禾县卫生健康局": frozenset({"text_mismatch"}),
        "青禾县交通运输局": frozenset({"stale_carry"}),
    })


def county(year: int, seed: int = 2026, n: int | None = None, plan: CountyPlan | None = None,
           previous: dict[str, Report] | None = None) -> list[Report]:
    """The fictional county's reports for ``year`` (consistent with ``previous`` where given)."""
    plan = plan or CountyPlan()
    return [fake_report(u, year, seed, plan.mistakes.get(u.name, frozenset()),
                        previous=(previous or {}).get(u.name)) for u in county_units(seed, n)]


SEED_NAME = "宁海县交通运输局2020年政府信息公开工作年度报告"


REPO_SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def seed_report(root: Path) -> Report:
    """The seed report as published (transcription kept under ``samples/published``; taken from
    the project's own samples when ``root`` has none)."""
    path = root / "published" / f"{SEED_NAME}.toml"
    if not path.exists():
        path = REPO_SAMPLES / "published" / path.name
    return load_transcription(path)


def write_samples(root: Path) -> list[Path]:
    """(Re)generate every bundled sample workbook under ``root``; returns the files written.

    - the seed report as a workbook (totals as published, so its mistakes stay visible);
    - 青禾县 2025 and 2026: one workbook per unit in 收文/, the 2026 folder also holding what a
      county office really receives: an older version of one unit's file, an Excel lock file and
      a damaged file; plus the unit register 单位名单.csv naming one unit that never sent its file.
    """
    from .build import BuildOptions, write_report

    written: list[Path] = []
    seed = seed_report(root)
    written.append(write_report(seed, root / f"{SEED_NAME}.xlsx", BuildOptions(derived="value")))
    last = {r.unit: r for r in county(2025, plan=CountyPlan(mistakes={}))}
    for r in last.values():
        written.append(write_report(r, root / f"{COUNTY}-2025" / "收文" / f"{r.unit}.xlsx"))
    units = county(2026, previous=last)
    inbox = root / f"{COUNTY}-2026" / "收文"
    expected_missing = units[-1]
    for r in units[:-1]:
        written.append(write_report(r, inbox / f"{r.unit}.xlsx"))
    old = fake_report(county_units()[2], 2026, seed=7, previous=last[units[2].unit])
    old.cover["date"] = "2027-01-03"
    written.append(write_report(old, inbox / "旧版" / f"{old.unit}（初稿）.xlsx"))
    (inbox / f"~${units[3].unit}.xlsx").write_bytes(b"\x00" * 165)
    (inbox / "附件1.xlsx").write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    written += [inbox / f"~${units[3].unit}.xlsx", inbox / "附件1.xlsx"]
    register = root / f"{COUNTY}-2026" / "单位名单.csv"
    lines = ["单位名称,统一社会信用代码,单位类型,上级单位"]
    lines += [f"{u.name},{u.code},{u.unit_type},{u.parent}" for u in county_units()]
    register.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    written.append(register)
    del expected_missing
    return written
