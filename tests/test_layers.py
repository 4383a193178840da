"""The package layout is the architecture: imports flow one way, and no modules import each other
in a circle.

Order, top to bottom: the doors (``addin.server``, ``addin.cli``) → ``addin.excel`` →
``addin.county`` → ``addin.publish`` → ``checks`` → ``workbook``. A module may import from its own
layer's package or from any layer below it; never from above, never from the other door. Every
import counts — module level, inside functions and under ``TYPE_CHECKING`` — because a lazy import
that points up is still a dependency that points up.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: (package prefix, rank): a smaller rank is nearer the user.
LAYERS = (("addin.server", 0), ("addin.cli", 0), ("addin.excel", 1), ("addin.county", 2), ("addin.publish", 3),
          ("checks", 4), ("workbook", 5))


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> tuple[str, int] | None:
    for prefix, rank in LAYERS:
        if module == prefix or module.startswith(prefix + "."):
            return prefix, rank
    return None


def sources() -> list[Path]:
    return sorted(p for top in ("addin", "checks", "workbook") for p in (ROOT / top).rglob("*.py"))


def imports_of(path: Path) -> set[str]:
    """The project modules a file imports, relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{a.name}" for a in node.names)  # ``from pkg import module``
    known = {module_name(p) for p in sources()}
    # the xlwings Server project folder puts its own packages on sys.path
    server = {m.removeprefix("addin.server."): m for m in known if m.startswith("addin.server.")}
    out = set()
    for name in found:
        name = server.get(name, name)
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name and name != here:
            out.add(name)
    return out


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports_of(p) for p in sources()}


def test_every_project_module_belongs_to_a_layer() -> None:
    assert [m for m in graph() if m not in ("addin",) and layer_of(m) is None] == []


def test_no_import_points_up_or_sideways() -> None:
    wrong = []
    for module, targets in graph().items():
        mine = layer_of(module)
        if mine is None:
            continue
        for target in targets:
            theirs = layer_of(target)
            if theirs is None:
                wrong.append(f"{module} → {target} (the package root holds no code)")
            elif theirs[0] != mine[0] and theirs[1] <= mine[1]:
                wrong.append(f"{module} → {target}")
    assert wrong == []


def test_no_modules_import_each_other_in_a_circle() -> None:
    edges = graph()
    state: dict[str, int] = defaultdict(int)  # 0 new, 1 on the path, 2 done
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if nxt.startswith(node + ".") or node.startswith(nxt + "."):
                continue  # a package and its own modules (``__init__`` re-exports)
            if state[nxt] == 1:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif state[nxt] == 0:
                visit(nxt, path + [nxt])
        state[node] = 2

    for start in sorted(edges):
        if state[start] == 0:
            visit(start, [start])
    assert cycles == []


@pytest.mark.parametrize("bad", ["from addin.cli.app import app", "import addin.excel.buttons"])
def test_the_walk_sees_an_upward_import(tmp_path: Path, bad: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The test itself can fail: a publish module importing a door is caught."""
    probe = ROOT / "addin" / "publish" / "_layer_probe.py"
    monkeypatch.setattr(f"{__name__}.sources", lambda: [*(p for p in sorted((ROOT / 'addin').rglob('*.py'))), probe])
    probe.write_text(f"def f():\n    {bad}\n", encoding="utf-8")
    try:
        with pytest.raises(AssertionError):
            test_no_import_points_up_or_sideways()
    finally:
        probe.unlink()
