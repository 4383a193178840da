"""pandera schemas generated from the spec, over long frames.

Two schemas per edition, each validating one *long* frame for a whole group of reports at once
(one lazy call per schema, never one call per unit — and a frame of a few columns, because
pandera's cost grows with the number of columns and checks, not with the number of rows):

- the *cell* schema: one row per (unit, cell), in unit-major order. Its ``value`` column is
  checked for the cell's kind (R2.1 / R3.4 / R4.4: one frame-wide check per rule, each looking
  at the rows of its own table) and for being readable at all; its ``status`` column records how
  the value was read (blank, placeholder, normalised) and is checked for R0.1 / R0.3 / R0.4;
- the *rule* schema: one row per (unit, rule instance), holding the residual (found − expected)
  that must be zero (or ≤ 0), one check per rule id; NaN means "does not apply here" (no
  last-year report, a unit type the rule is not about, an unreadable cell already reported).

A failure case's index is ``unit × width + column`` of the matrix the frame was raveled from;
``failed`` turns pandera's failure cases back into (unit, column, rule id) triples.
"""

from __future__ import annotations

from functools import cache
from typing import Callable

import numpy as np
import pandas as pd
import pandera.pandas as pa

from workbook.spec import load_edition
from workbook.values import Status

from .instances import instances

TOLERANCE = 1e-6
KINDS = ("count", "signed", "money")
Failed = list[tuple[int, int, str]]


def kind_rule(edition_key: str, table: str) -> str:
    """The rule id that states the value kind of a table's cells (R2.1, R3.4 or R4.4)."""
    ed = load_edition(edition_key)
    return next(r.id for r in ed.rules_of("cell_kind") if r.get("table") == table)


@cache
def cell_meta(edition_key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[str, ...]]:
    """Per cell of the edition, in ``ed.cells`` order: kind code, table code, is-input; and the
    table keys the table codes index."""
    ed = load_edition(edition_key)
    tables = tuple(t.key for t in ed.tables)
    kind = np.array([KINDS.index(c.kind) for c in ed.cells], dtype=np.int8)
    table = np.array([tables.index(c.table) for c in ed.cells], dtype=np.int8)
    is_input = np.array([c.role == "input" for c in ed.cells], dtype=bool)
    return kind, table, is_input, tables


def _kind_ok(frame: pd.DataFrame) -> np.ndarray:
    """Whether each value is of its cell's kind; a derived cell needs only to be readable (a
    negative total follows from a negative input and is reported there)."""
    v = frame["value"].to_numpy()
    with np.errstate(invalid="ignore"):
        whole = v == np.floor(v)
        by_kind = np.select([frame["kind"].to_numpy() == 0, frame["kind"].to_numpy() == 1],
                            [(v >= 0) & whole, whole], v >= 0)
    unknown = frame["status"].to_numpy() == int(Status.UNKNOWN)  # not a wrong value: no value (R0.5)
    return (~np.isnan(v) & (~frame["input"].to_numpy() | by_kind)) | unknown


def _table_check(code: int) -> Callable[[pd.DataFrame], pd.Series]:
    def check(frame: pd.DataFrame) -> pd.Series:
        return pd.Series((frame["table"].to_numpy() != code) | _kind_ok(frame), index=frame.index)
    return check


@cache
def cell_schema(edition_key: str) -> pa.DataFrameSchema:
    """Kinds (per table's rule) on ``value`` and reading status (R0.1/R0.3/R0.4) on ``status``."""
    ed = load_edition(edition_key)
    tables = cell_meta(edition_key)[3]
    status_checks = [pa.Check(lambda s, v=int(status): s != v, name=ed.rules_of(kind)[0].id)
                     for status, kind in ((Status.BLANK, "blank"), (Status.PLACEHOLDER, "placeholder"),
                                          (Status.NORMALISED, "normalised"))]
    kind_checks = [pa.Check(_table_check(tables.index(r.get("table"))), name=r.id)
                   for r in ed.rules_of("cell_kind")]
    return pa.DataFrameSchema(
        {"value": pa.Column(float, nullable=True), "status": pa.Column("int8", checks=status_checks),
         "kind": pa.Column("int8"), "table": pa.Column("int8"), "input": pa.Column(bool)},
        checks=kind_checks, name=f"cells-{edition_key}", strict=True, coerce=False,
    )


def cell_frame(edition_key: str, values: np.ndarray, status: np.ndarray) -> pd.DataFrame:
    """The long frame of a values matrix and a status matrix (units × cells)."""
    kind, table, is_input, _ = cell_meta(edition_key)
    n = values.shape[0]
    return pd.DataFrame({"value": values.ravel(), "status": status.ravel(), "kind": np.tile(kind, n),
                         "table": np.tile(table, n), "input": np.tile(is_input, n)})


@cache
def rule_codes(edition_key: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Per rule instance: its rule's code, whether it is a ≤ comparison; and the rule ids."""
    insts = instances(edition_key)
    ids = tuple(dict.fromkeys(i.rule.id for i in insts))
    code = np.array([ids.index(i.rule.id) for i in insts], dtype=np.int16)
    le = np.array([i.op == "le" for i in insts], dtype=bool)
    return code, le, ids


def _rule_check(code: int) -> Callable[[pd.DataFrame], pd.Series]:
    def check(frame: pd.DataFrame) -> pd.Series:
        r = frame["residual"].to_numpy()
        with np.errstate(invalid="ignore"):
            ok = np.where(frame["le"].to_numpy(), r <= TOLERANCE, np.abs(r) <= TOLERANCE)
        return pd.Series((frame["rule"].to_numpy() != code) | np.isnan(r) | ok, index=frame.index)
    return check


@cache
def rule_schema(edition_key: str) -> pa.DataFrameSchema:
    """One check per table rule, named by its rule id."""
    _, _, ids = rule_codes(edition_key)
    checks = [pa.Check(_rule_check(k), name=rid) for k, rid in enumerate(ids)]
    return pa.DataFrameSchema(
        {"residual": pa.Column(float, nullable=True), "rule": pa.Column("int16"), "le": pa.Column(bool)},
        checks=checks, name=f"rules-{edition_key}", strict=True, coerce=False,
    )


def rule_frame(edition_key: str, residuals: np.ndarray) -> pd.DataFrame:
    """The long frame of a residual matrix (units × rule instances)."""
    code, le, _ = rule_codes(edition_key)
    n = residuals.shape[0]
    return pd.DataFrame({"residual": residuals.ravel(), "rule": np.tile(code, n), "le": np.tile(le, n)})


def failed(schema: pa.DataFrameSchema, frame: pd.DataFrame, width: int) -> Failed:
    """Validate lazily; every failing (unit, column of the matrix, rule id), once, in order."""
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        fc = exc.failure_cases
        fc = fc[fc["index"].notna()]
        # a frame-wide check reports each column of a failing row: keep one per (row, check)
        pairs = dict.fromkeys(zip(fc["index"].astype(int), fc["check"].astype(str)))
        return sorted((int(i) // width, int(i) % width, check) for i, check in pairs)
    return []
