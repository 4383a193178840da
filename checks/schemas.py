"""pandera schemas generated from the spec.

Three schemas per edition, each validating one frame with one row per unit, so that a whole
county is validated in one lazy call per schema (never one call per unit):

- the *cell* schema: one column per number cell, checked for its kind (R2.1/R3.4/R4.4) and for
  unreadable values (NaN);
- the *status* schema: one column per cell holding how its value was read (blank, placeholder,
  normalised), for R0.1/R0.3/R0.4;
- the *rule* schema: one column per rule instance holding its residual (found − expected), checked
  for zero (or ≤ 0); NaN means "does not apply here" (no last-year report, a unit type the rule
  is not about, an unreadable cell already reported).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pandera.pandas as pa

from workbook.spec import load_edition
from workbook.values import Status

from .instances import instances

TOLERANCE = 1e-6


def kind_rule(edition_key: str, table: str) -> str:
    """The rule id that states the value kind of a table's cells (R2.1, R3.4 or R4.4)."""
    ed = load_edition(edition_key)
    return next(r.id for r in ed.rules_of("cell_kind") if r.get("table") == table)


def _kind_check(kind: str, name: str) -> pa.Check:
    if kind == "count":
        fn = lambda s: (s >= 0) & (s == np.floor(s))  # noqa: E731
    elif kind == "signed":
        fn = lambda s: s == np.floor(s)  # noqa: E731
    else:
        fn = lambda s: s >= 0  # noqa: E731
    return pa.Check(fn, name=name, error=f"{name}:{kind}")


@cache
def cell_schema(edition_key: str) -> pa.DataFrameSchema:
    """Kinds are checked on input cells; a derived cell is checked by its sum rule (a negative
    total follows from a negative input and is reported there), and for being readable at all."""
    ed = load_edition(edition_key)
    return pa.DataFrameSchema(
        {c.id: pa.Column(float, nullable=False,
                         checks=_kind_check(c.kind, kind_rule(edition_key, c.table)) if c.role == "input" else None,
                         title=" · ".join(ed.labels(c.id))) for c in ed.cells},
        name=f"cells-{edition_key}", strict=True, coerce=False,
    )


def _status_check(status: Status, rule: str) -> pa.Check:
    return pa.Check(lambda s, v=int(status): s != v, name=rule)


@cache
def status_schema(edition_key: str) -> pa.DataFrameSchema:
    ed = load_edition(edition_key)
    checks = [_status_check(Status.BLANK, ed.rules_of("blank")[0].id),
              _status_check(Status.PLACEHOLDER, ed.rules_of("placeholder")[0].id),
              _status_check(Status.NORMALISED, ed.rules_of("normalised")[0].id)]
    return pa.DataFrameSchema({c.id: pa.Column("int8", checks=checks) for c in ed.cells},
                              name=f"status-{edition_key}", strict=True)


@cache
def rule_schema(edition_key: str) -> pa.DataFrameSchema:
    cols = {}
    for inst in instances(edition_key):
        if inst.op == "le":
            check = pa.Check(lambda s: s <= TOLERANCE, name=inst.rule.id)
        else:
            check = pa.Check(lambda s: s.abs() <= TOLERANCE, name=inst.rule.id)
        cols[inst.key] = pa.Column(float, nullable=True, checks=check, title=inst.rule.title)
    return pa.DataFrameSchema(cols, name=f"rules-{edition_key}", strict=True)


def failures(schema: pa.DataFrameSchema, frame: pd.DataFrame) -> pd.DataFrame:
    """Validate lazily and return pandera's failure cases (empty frame when all pass)."""
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        fc = exc.failure_cases
        return fc[fc["index"].notna()]
    return pd.DataFrame(columns=["column", "check", "failure_case", "index"])
