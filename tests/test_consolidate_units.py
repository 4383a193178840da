"""Which file stands for which unit: the register (Excel or CSV, GBK or UTF-8), duplicates (newest
填报日期, then newest file time), units off the list, ``--strict``, and the command's refusals
(exit 2) when it cannot run at all."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import openpyxl
import pytest
from python_calamine import CalamineWorkbook

from workbook.build import write_report
from workbook.layout import layout_for
from workbook.samples import county_units, fake_report

from addin.county.consolidate import ConsolidateOptions, consolidate, parse_date
from addin.county.register import RegisterError, load_register

YEAR = 2026
LAY = layout_for("2021")


@pytest.fixture
def units(tmp_path: Path) -> list:
    """Four units of a county, each written to 收文/ (plain, consistent reports)."""
    out = []
    for u in county_units(41, 4):
        rep = fake_report(u, YEAR, 41)
        out.append((u, rep, write_report(rep, tmp_path / "收文" / f"{u.name}.xlsx")))
    return out


def _cell(path: Path, cid: str) -> float:
    grid = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(LAY.sheet_of(cid)).to_python(skip_empty_area=False)
    r, c = LAY.pos(cid)
    return grid[r][c]


def test_register_from_excel_with_a_title_above_the_header(tmp_path: Path, units: list) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["青禾县2026年度政府信息公开年报报送单位名单"])
    ws.append([])
    ws.append(["序号", "单位名称", "统一社会信用代码", "单位类型", "上级单位"])
    for i, (u, _, _) in enumerate(units[:3], start=1):
        ws.append([i, u.name, u.code, u.unit_type, u.parent])
    ws.append([4, "青禾县审计局", "", "县级政府部门", "青禾县人民政府"])
    wb.save(tmp_path / "名单.xlsx")
    register = load_register(tmp_path / "名单.xlsx")
    assert [e.name for e in register.entries][-1] == "青禾县审计局" and register.entries[0].line == 4
    result = consolidate([tmp_path / "收文"], tmp_path / "汇总.xlsx", ConsolidateOptions(units=tmp_path / "名单.xlsx"))
    assert result.name == "青禾县人民政府"  # from the register's 上级单位
    assert [e.name for e, _ in result.missing] == ["青禾县审计局"]
    off_list = result.by_status("unlisted")
    assert [s.name for s in off_list] == [units[3][0].name] and "不在单位名单" in off_list[0].reason
    assert len(result.included) == 3 and result.exit_code == 1


@pytest.mark.parametrize("content, why", [
    ("名称X,代码\n甲,1\n", "找不到“单位名称”列"),
    ("单位名称,统一社会信用代码\n甲,113399011588139987\n乙,113399011588139987\n", "统一社会信用代码相同"),
    ("单位名称,统一社会信用代码\n", "没有任何单位"),
])
def test_a_register_that_cannot_be_trusted_stops_the_command(tmp_path: Path, units: list, cli, content: str, why: str) -> None:
    (tmp_path / "名单.csv").write_text(content, encoding="utf-8")
    with pytest.raises(RegisterError, match=why):
        load_register(tmp_path / "名单.csv")
    proc = cli(["consolidate", "收文", "--units", "名单.csv", "-o", "汇总.xlsx"], tmp_path)
    assert proc.returncode == 2 and why in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "汇总.xlsx").exists()


def test_duplicates_newest_date_then_newest_file_time(tmp_path: Path, units: list) -> None:
    u, rep, path = units[0]
    older = fake_report(u, YEAR, 7)
    older.cover["date"] = f"{YEAR + 1}年1月2日"
    write_report(older, tmp_path / "收文" / "旧版" / "初稿.xlsx")
    u2, rep2, path2 = units[1]
    same_day = fake_report(u2, YEAR, 8)
    same_day.cover["date"] = rep2.cover["date"]
    copy = write_report(same_day, tmp_path / "收文" / "又一份.xlsx")
    now = dt.datetime.now().timestamp()
    os.utime(path2, (now - 3600, now - 3600))
    os.utime(copy, (now, now))
    result = consolidate([tmp_path / "收文"], tmp_path / "汇总.xlsx", ConsolidateOptions(name="青禾县人民政府"))
    dups = {s.path.name: s.reason for s in result.by_status("duplicate")}
    assert set(dups) == {"初稿.xlsx", path2.name}
    assert "填报日期" in dups["初稿.xlsx"] and path.name in dups["初稿.xlsx"]
    assert "修改时间" in dups[path2.name] and "又一份.xlsx" in dups[path2.name]
    used = {s.path.name for s in result.included}
    assert used == {path.name, "又一份.xlsx", units[2][2].name, units[3][2].name}
    cid = "part3.main.new.natural"
    assert _cell(tmp_path / "汇总.xlsx", cid) == sum(float(r.raw[cid]) for r in (rep, same_day, units[2][1], units[3][1]))


def test_strict_leaves_out_units_with_errors(tmp_path: Path, units: list, cli) -> None:
    u, _, path = units[0]
    write_report(fake_report(u, YEAR, 41, frozenset({"imbalance"})), path)
    proc = cli(["consolidate", "收文", "-o", "汇总.xlsx", "--name", "青禾县人民政府", "--strict"], tmp_path)
    assert proc.returncode == 1 and "--strict" in proc.stdout and u.name in proc.stdout
    cid = "part3.main.new.natural"
    assert _cell(tmp_path / "汇总.xlsx", cid) == sum(float(r.raw[cid]) for _, r, _ in units[1:])
    proc = cli(["consolidate", "收文", "-o", "汇总2.xlsx", "--name", "青禾县人民政府"], tmp_path)
    assert proc.returncode == 1 and "有错误" in proc.stdout  # summed, but the exit status says so


def test_the_summary_in_the_input_folder_is_not_summed_again(tmp_path: Path, units: list) -> None:
    out = tmp_path / "收文" / "汇总.xlsx"
    first = consolidate([tmp_path / "收文"], out, ConsolidateOptions(name="青禾县人民政府"))
    again = consolidate([tmp_path / "收文"], out, ConsolidateOptions(name="青禾县人民政府"))
    assert len(first.sources) == len(again.sources) == 4 and again.exit_code == 0


@pytest.mark.parametrize("args, why", [
    (["空文件夹", "-o", "汇总.xlsx"], "没有任何 Excel 文件"),
    (["不存在", "-o", "汇总.xlsx"], "找不到输入"),
    (["收文", "-o", "汇总.xlsm"], ".xlsx"),
    (["收文", "-o", "汇总.xlsx", "--scope", "city"], "--scope"),
])
def test_the_command_refuses_what_it_cannot_do(tmp_path: Path, units: list, cli, args: list[str], why: str) -> None:
    (tmp_path / "空文件夹").mkdir()
    proc = cli(["consolidate", *args, "--name", "青禾县人民政府"], tmp_path)
    assert proc.returncode == 2 and why in proc.stderr and "Traceback" not in proc.stderr


def test_dates_as_clerks_type_them() -> None:
    assert parse_date("2027-01-15") == dt.date(2027, 1, 15)
    assert parse_date("2027/1/5") == dt.date(2027, 1, 5)
    assert parse_date("2027年1月5日") == dt.date(2027, 1, 5)
    assert parse_date("46402") == dt.date(2027, 1, 15)  # an Excel serial day
    assert parse_date("一月") is None and parse_date("2027-13-01") is None
