"""Import many published reports in worker processes, each file's failure its own.

A published report is the most untrusted input there is — downloaded from any site, in any
format. The readers bound what they build (nesting, table sizes, zip packages, PDF pages), but a
parser can still fail in a way no bound foresees. So files are imported in worker processes
with a memory and time limit (``workbook.isolate``): a file that crashes, hangs or exhausts its
worker gets a Chinese reason and the other files of the batch are still imported. The same
workers make a folder of hundreds of reports go about as many times faster as there are cores.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Sequence, Union

from workbook.isolate import Budget, Failed, auto_workers, chunked, run_chunks, tick

from . import PublishedError, import_report
from .assemble import Imported

log = logging.getLogger(__name__)
Outcome = Union[Imported, PublishedError]
#: Files per worker task: small enough that a crash costs little re-work, large enough that
#: starting a task is cheap next to ~50 ms of importing a PDF.
CHUNK = 40


def warm() -> None:
    """Load the readers' libraries once, before worker processes are forked from this one: each
    worker then starts with them loaded instead of importing them again (~0.2 s a worker)."""
    import docx  # noqa: F401
    import pdfplumber.table  # noqa: F401
    import pypdfium2  # noqa: F401


def import_one(path: Path | str) -> Outcome:
    """``import_report`` that never raises: an unexpected error is that file's reason (logged
    without the file's contents, so that the bug can be found)."""
    try:
        return import_report(path)
    except PublishedError as exc:
        return exc
    except (RecursionError, MemoryError) as exc:
        return PublishedError(Path(path), f"文件内容异常（{_what(exc)}），无法导入", "abnormal")
    except Exception as exc:  # a reader bug must cost this file, not the batch
        log.exception("importing %s failed", Path(path).name)
        return PublishedError(Path(path), f"无法导入（导入时程序出错：{type(exc).__name__}）", "error")


def _what(exc: BaseException) -> str:
    return "嵌套过深" if isinstance(exc, RecursionError) else "需要的内存过大"


def _import_paths(paths: list[str]) -> list[Imported | tuple[str, str]]:
    """Worker side: each file imported; an error travels as (reason, code)."""
    out: list[Imported | tuple[str, str]] = []
    for name in paths:
        got = import_one(name)
        out.append((got.reason, got.code) if isinstance(got, PublishedError) else got)
        tick()
    return out


def import_many(paths: Sequence[Path | str], workers: int | None = None, budget: Budget = Budget(),
                progress: Callable[[int], None] | None = None) -> list[Outcome]:
    """Each file's ``Imported``, or the ``PublishedError`` saying why not, in input order.
    ``workers`` processes at a time (default: by the number of files); 0 imports in this
    process without isolation (a baseline for benchmarks, and for environments that cannot
    start processes)."""
    names = [str(p) for p in paths]
    if workers == 0:
        return [import_one(n) for n in names]
    workers = workers or auto_workers(len(names))
    warm()
    out: list[Outcome] = []
    for items, outcome in run_chunks(_import_paths, chunked(names, workers, CHUNK), workers, budget=budget,
                                     progress=progress):
        if isinstance(outcome, Failed):
            out += [PublishedError(Path(n), outcome.reason.replace("无法读取", "无法导入", 1), outcome.code) for n in items]
        else:
            out += [r if isinstance(r, Imported) else PublishedError(Path(n), r[0], r[1]) for n, r in zip(items, outcome)]
    return out


__all__ = ["CHUNK", "Outcome", "import_many", "import_one", "warm"]
