"""Derived cells as one linear map over the input cells: ``derived = inputs @ D``.

Why a matrix: a total is a fixed sum of input cells (the spec's ``sum`` rules, nested: Part 三's
corner sums the outcome rows' totals, which sum their input cells). Expanding every derived cell
down to its inputs once per edition lets the totals of thousands of units be computed in one
matrix product, and gives one single place — built from the spec cells' ``items`` — that says
which inputs a total is made of. ``report.derive_totals`` and the checks can use it too, instead of
walking the items again.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from .spec import load_edition


@cache
def input_ids(edition_key: str) -> tuple[str, ...]:
    """The input cells of an edition, in the spec's order (the matrix's rows)."""
    return tuple(c.id for c in load_edition(edition_key).input_cells)


@cache
def derivation_matrix(edition_key: str) -> tuple[tuple[str, ...], np.ndarray]:
    """(derived cell ids, D) with ``D[i, k]`` = how many times input ``input_ids[i]`` counts in
    derived cell ``k``. Built from the spec cells' ``items``, expanded recursively (a derived item
    contributes its own inputs). The array is read-only: it is cached and shared."""
    ed = load_edition(edition_key)
    pos = {cid: i for i, cid in enumerate(input_ids(edition_key))}
    derived = tuple(c.id for c in ed.derived_cells)
    column_of = {cid: k for k, cid in enumerate(derived)}
    matrix = np.zeros((len(pos), len(derived)))

    def column(cid: str) -> np.ndarray:
        """A derived cell's column over the inputs (each computed once, reused by its parents)."""
        k = column_of[cid]
        if not matrix[:, k].any():
            for item in ed.cell(cid).items:
                if item in pos:
                    matrix[pos[item], k] += 1.0
                else:
                    matrix[:, k] += column(item)
        return matrix[:, k]

    for cid in derived:
        column(cid)
    matrix.flags.writeable = False
    return derived, matrix


__all__ = ["derivation_matrix", "input_ids"]
