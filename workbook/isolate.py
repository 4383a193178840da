"""Read untrusted files in worker processes with a memory and a time limit.

Why: ``workbook.limits`` refuses the hostile packages anyone has thought of, but a parser can still
fail in ways no check foresees — abort the process on a failed allocation (Rust does), loop, or
raise something nobody expected. Read in the process that serves a county, one such file takes the
whole run down (or every clerk's server). Read in a worker, it costs that worker only: the file
gets a “无法读取” line with a Chinese reason and every other unit is still read.

How:

* Work goes to workers in chunks (a worker per chunk, a fresh process each time). A worker counts
  each finished item (``tick``) in memory shared with the parent, which looks a few times a second:
  it knows which item was being read when the worker died, at no cost per item.
* Memory: each worker limits its own address space (``RLIMIT_AS``) to what it starts with plus
  ``Budget.memory``; an allocation beyond fails inside the worker, not in the parent.
* Time: a worker that finishes no item for ``Budget.stall`` seconds is killed. The item it was on
  is the culprit (a hang is not retried: that would only cost the same time again).
* After a crash or an unexpected exception the item in flight is read again alone, in a fresh
  process — only if it fails alone too does it get the reason — and the chunk's other items (their
  results died with the worker) go to another worker. A failure after the last item (while the
  chunk was being finished) has no single suspect: the chunk is halved until the culprit is alone.

Processes are started with ``fork`` when the caller has no other threads (cheapest: the worker
shares the loaded modules); a web server's thread pool makes ``fork`` unsafe (a lock held by
another thread stays locked in the child), so there ``forkserver`` is used, whose server process
preloads the work's module once. Where processes cannot be started at all, the work runs in this
process, unprotected, and a warning is logged.

Windows has neither ``fork``, ``forkserver`` nor ``RLIMIT_AS``: workers are spawned (each imports
the modules, ~1 s), the time limit and the crash isolation apply, the memory limit does not (a Job
Object would be needed) — there the checks of ``workbook.limits`` are the memory bound. macOS
accepts but does not enforce ``RLIMIT_AS``: the same holds there.
"""

from __future__ import annotations

import faulthandler
import logging
import math
import multiprocessing as mp
import os
import pickle
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, Callable, Generic, Sequence, TypeVar

try:
    import resource
except ImportError:  # Windows
    resource = None  # type: ignore[assignment]

from .read import ReadError, log_unexpected, read_report
from .report import Report

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")

GIB = 1024 ** 3
RETRY = "请在 Excel/WPS 中打开后重新保存，或重新发送"
_DONE, _RAISED, _LOG = b"d", b"e", b"l"


MIB = 1024 ** 2


@dataclass(frozen=True)
class Budget:
    """What one worker may use: address space on top of what it starts with (None: no limit),
    and seconds without finishing an item."""

    memory: int | None = 1 * GIB
    stall: float = 60.0


def default_budget() -> Budget:
    """The budget, adjustable by whoever runs the tool or the server: ``NIANBAO_READ_MEMORY_MB``
    (address space a reading worker may add, in MB; 0: no limit) and ``NIANBAO_READ_SECONDS``
    (seconds a worker may spend on one file). Unset or unusable values keep the defaults."""
    budget = Budget()
    try:
        mb = int(os.environ.get("NIANBAO_READ_MEMORY_MB", ""))
        budget = Budget(mb * MIB if mb > 0 else None, budget.stall)
    except ValueError:
        pass
    try:
        seconds = float(os.environ.get("NIANBAO_READ_SECONDS", ""))
        if seconds > 0:
            budget = Budget(budget.memory, seconds)
    except ValueError:
        pass
    return budget


@dataclass(frozen=True)
class Failed:
    """An item whose worker died, hung or raised even when it read the item alone."""

    kind: str  # "crashed" | "timeout" | "memory" | "error"
    detail: str = ""  # for the log: exit status, exception type
    seconds: float = 0.0

    @property
    def reason(self) -> str:
        """What the office is told (the item's “无法读取” line)."""
        if self.kind == "timeout":
            return f"无法读取（读取超过 {self.seconds:.0f} 秒仍未完成，文件内容可能异常）。{RETRY}"
        if self.kind == "memory":
            return f"无法读取（读取需要的内存超过限制，文件内容可能异常）。{RETRY}"
        if self.kind == "error":
            return f"无法读取（读取时程序出错）。{RETRY}"
        return f"无法读取（读取时程序异常退出，文件内容可能异常）。{RETRY}"

    @property
    def code(self) -> str:
        return self.kind


# --------------------------------------------------------------------------------------------
# Inside a worker
# --------------------------------------------------------------------------------------------

_DONE_ITEMS: Any = None  # the worker's count of finished items, in memory the parent reads


def tick() -> None:
    """Count one more item finished (a no-op outside a worker). Work functions call it after each
    item: it keeps the time limit per item, and names the item a crash happened on. A plain
    increment of a shared number, no message: the parent looks a few times a second."""
    if _DONE_ITEMS is not None:
        _DONE_ITEMS.value += 1


def _address_space() -> int | None:
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def limit_memory(headroom: int | None) -> None:
    """Limit this process's address space to its present size plus ``headroom`` (never above a
    limit already set). Without /proc (macOS) or ``resource`` (Windows) nothing is limited."""
    if headroom is None or resource is None:
        return
    size = _address_space()
    if size is None:
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    want = size + headroom
    for limit in (soft, hard):
        if limit != resource.RLIM_INFINITY:
            want = min(want, limit)
    try:
        resource.setrlimit(resource.RLIMIT_AS, (want, hard))
    except (ValueError, OSError):
        log.warning("could not limit a reading worker's memory")


class _ToParent(logging.Handler):
    """A worker's log records, sent to the parent, which logs them where the tool or the server
    logs (the worker's own standard error is silenced, see ``_quiet``)."""

    def __init__(self, conn: Connection) -> None:
        super().__init__(logging.INFO)
        self.conn = conn

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.conn.send_bytes(_LOG + pickle.dumps((record.name, record.levelno, record.getMessage())))
        except Exception:  # noqa: BLE001 — a log record must never break the reading
            pass


def _quiet(conn: Connection) -> None:
    """A failing parser writes to standard error (Rust prints “memory allocation of … failed” and a
    backtrace): in a worker that would land on the clerk's terminal or in the server's log as
    noise. The worker's standard error goes nowhere; its log records go to the parent."""
    os.environ["RUST_BACKTRACE"] = "0"
    faulthandler.disable()  # its dump of a crash would go to an inherited copy of standard error
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    except OSError:
        pass
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(_ToParent(conn))


def _child(conn: Connection, done: Any, work: Callable[[list[Any]], Any], items: list[Any], memory: int | None,
           initializer: Callable[..., None] | None, initargs: tuple[Any, ...]) -> None:
    global _DONE_ITEMS
    _DONE_ITEMS = done
    _quiet(conn)
    limit_memory(memory)
    try:
        if initializer is not None:
            initializer(*initargs)
        message = _DONE + pickle.dumps(work(items), protocol=pickle.HIGHEST_PROTOCOL)
    except BaseException as exc:  # reported to the parent, which decides what the item gets
        where = "".join(traceback.format_tb(exc.__traceback__))
        message = _RAISED + pickle.dumps((type(exc).__qualname__, where))
    conn.send_bytes(message)
    conn.close()


# --------------------------------------------------------------------------------------------
# The parent
# --------------------------------------------------------------------------------------------

@dataclass
class _Job(Generic[T]):
    items: list[tuple[int, T]]  # (position in the input, item)


@dataclass
class _Running(Generic[T]):
    job: _Job[T]
    process: Any
    conn: Connection
    done: Any  # the shared count the worker's ``tick`` raises
    last: float
    ticks: int = 0


@dataclass
class _Pool(Generic[T, R]):
    work: Callable[[list[T]], R]
    workers: int
    budget: Budget
    initializer: Callable[..., None] | None
    initargs: tuple[Any, ...]
    progress: Callable[[int], None] | None
    ctx: Any = None
    queue: deque[_Job[T]] = field(default_factory=deque)
    running: list[_Running[T]] = field(default_factory=list)
    results: list[tuple[int, list[T], R | Failed]] = field(default_factory=list)
    finished: int = 0
    shown: int = 0

    def run(self) -> list[tuple[list[T], R | Failed]]:
        while self.queue or self.running:
            while self.queue and len(self.running) < self.workers:
                job = self.queue.popleft()
                if not self._start(job):
                    self._in_process(job)
            if self.running:
                self._wait()
        self.results.sort(key=lambda r: r[0])
        return [(items, outcome) for _, items, outcome in self.results]

    def _start(self, job: _Job[T]) -> bool:
        if self.ctx is None:
            return False
        try:
            reader, writer = self.ctx.Pipe(duplex=False)
            done = self.ctx.RawValue("q", 0)
            process = self.ctx.Process(target=_child, daemon=True, name="nianbao-reader",
                                       args=(writer, done, self.work, [item for _, item in job.items], self.budget.memory,
                                             self.initializer, self.initargs))
            process.start()
        except (OSError, ValueError, RuntimeError, pickle.PicklingError, AttributeError, TypeError) as exc:
            log.warning("reading workers cannot be started (%s): reading in this process, without isolation",
                        type(exc).__qualname__)
            self.ctx = None
            return False
        writer.close()  # only the child writes: its death then shows as end of file here
        self.running.append(_Running(job, process, reader, done, time.monotonic()))
        return True

    def _in_process(self, job: _Job[T]) -> None:
        if self.initializer is not None:
            self.initializer(*self.initargs)
        result = self.work([item for _, item in job.items])
        self._done(job, result)

    def _done(self, job: _Job[T], outcome: R | Failed) -> None:
        self.results.append((job.items[0][0], [item for _, item in job.items], outcome))
        self.finished += len(job.items)
        self._show(0)

    def _show(self, extra: int) -> None:
        shown = self.finished + extra
        if self.progress is not None and shown > self.shown:
            self.shown = shown
            self.progress(shown)

    def _wait(self) -> None:
        now = time.monotonic()
        timeout = max(0.0, min(r.last + self.budget.stall for r in self.running) - now)
        wait([r.conn for r in self.running] + [r.process.sentinel for r in self.running], timeout=min(timeout, 0.2))
        now = time.monotonic()
        for run in list(self.running):
            ticks = run.done.value
            if ticks > run.ticks:
                run.ticks, run.last = ticks, now
            outcome: tuple[bytes, Any] | None = None
            try:
                while outcome is None and run.conn.poll():
                    data = run.conn.recv_bytes()
                    if data[:1] == _LOG:
                        name, level, text = pickle.loads(data[1:])
                        logging.getLogger(name).log(level, "%s", text)
                    else:
                        outcome = (data[:1], pickle.loads(data[1:]))
            except (EOFError, OSError):
                outcome = (b"x", f"exit status {run.process.exitcode}" if run.process.exitcode is not None else "pipe closed")
            run.ticks = max(run.ticks, run.done.value)  # the last items counted before the end
            if outcome is None and now - run.last > self.budget.stall:
                outcome = (b"s", f"no item finished in {self.budget.stall:.0f} s")
            if outcome is None:
                continue
            self.running.remove(run)
            self._reap(run, kill=outcome[0] != _DONE)
            if outcome[0] == _DONE:
                self._done(run.job, outcome[1])
            else:
                self._failed(run, outcome)
        self._show(sum(r.ticks for r in self.running))

    @staticmethod
    def _reap(run: _Running[T], kill: bool) -> None:
        if kill and run.process.is_alive():
            run.process.kill()
        run.process.join(5)
        if run.process.is_alive():
            run.process.kill()
            run.process.join()
        run.conn.close()

    def _failed(self, run: _Running[T], outcome: tuple[bytes, Any]) -> None:
        kind_tag, detail = outcome
        items = run.job.items
        kind = {b"s": "timeout", _RAISED: "error"}.get(kind_tag, "crashed")
        if kind_tag == _RAISED:
            name, where = detail
            detail = name
            if name == "MemoryError":
                kind = "memory"  # the worker's memory limit did its job
            else:  # an exception outside the reader's own handling: a bug to be found
                log.error("a reading worker raised %s (message omitted: it may quote a file)\n%s", name, where)
        if kind == "crashed" and run.process.exitcode is not None:
            detail = f"exit status {run.process.exitcode}"
        # a crash or hang is the file's doing (its Chinese reason is shown): logged quietly
        log.info("a reading worker failed (%s, %s) on item %d of %d", kind, detail, run.ticks + 1, len(items))
        failure = Failed(kind, str(detail), self.budget.stall)
        k = run.ticks
        if len(items) == 1:  # every job has a fresh process: this item failed alone
            self._done(run.job, failure)
        elif k < len(items) and kind == "timeout":
            self._done(_Job([items[k]]), failure)  # hung on it: not retried (it would hang again)
            self.queue.appendleft(_Job(items[:k] + items[k + 1:]))
        elif k < len(items):
            self.queue.appendleft(_Job([items[k]]))  # read it again alone: is it the culprit?
            self.queue.append(_Job(items[:k] + items[k + 1:]))
        else:  # after the last item: no single suspect
            half = len(items) // 2
            self.queue.extendleft([_Job(items[half:]), _Job(items[:half])])


_PRELOAD: set[str] = {"workbook.read"}


def preload(*modules: str) -> None:
    """Name modules a fork server should import once, before it forks any worker (effective until
    the first fork server starts; a module imported at start-up — as the add-in server imports the
    consolidation — registers its own, so workers start without importing pandas each time)."""
    _PRELOAD.update(modules)


def _context(work: Callable[..., Any]) -> Any:
    methods = mp.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return mp.get_context("fork")
    if "forkserver" in methods:
        ctx = mp.get_context("forkserver")
        module = getattr(work, "__module__", None) or getattr(getattr(work, "func", None), "__module__", None)
        if module and module != "__main__":
            _PRELOAD.add(module)
        ctx.set_forkserver_preload(sorted(_PRELOAD))  # effective for the first server started
        return ctx
    return mp.get_context("spawn")


def run_chunks(work: Callable[[list[T]], R], chunks: Sequence[Sequence[T]], workers: int, *,
               budget: Budget = Budget(), initializer: Callable[..., None] | None = None,
               initargs: tuple[Any, ...] = (), progress: Callable[[int], None] | None = None,
               ) -> list[tuple[list[T], R | Failed]]:
    """Run ``work`` on each chunk in a worker process, at most ``workers`` at a time.

    Returns (items, outcome) in input order: a chunk's result, or — after a crash, a hang or an
    exception — smaller groups of the chunk's items with their results, and each culprit alone
    with ``Failed``. ``work`` must be a module-level function (or a ``functools.partial`` of one)
    that calls ``tick()`` after each item; ``initializer(*initargs)`` runs in each worker first.
    ``progress`` gets the number of items finished so far."""
    pool: _Pool[T, R] = _Pool(work, max(1, workers), budget, initializer, initargs, progress)
    position = 0
    for chunk in chunks:
        items = list(chunk)
        if items:
            pool.queue.append(_Job(list(enumerate(items, position))))
            position += len(items)
    if pool.queue:
        pool.ctx = _context(work)
    return pool.run()


# --------------------------------------------------------------------------------------------
# Reading reports
# --------------------------------------------------------------------------------------------

def _read_paths(paths: list[str]) -> list[Report | tuple[str, str]]:
    """Worker side: each path read (a ``ReadError`` travels as (reason, code))."""
    out: list[Report | tuple[str, str]] = []
    for name in paths:
        try:
            out.append(read_report(name))
        except ReadError as exc:
            out.append((exc.reason, exc.code))
        tick()
    return out


def auto_workers(n_files: int) -> int:
    """One worker below a few hundred files (starting more costs more than it saves), else one per
    core (at most 8)."""
    return 1 if n_files < 300 else max(1, min(os.cpu_count() or 1, 8))


def chunked(items: Sequence[T], workers: int, largest: int) -> list[list[T]]:
    """``items`` in about ``workers`` equal chunks of at most ``largest``."""
    size = max(1, min(largest, math.ceil(len(items) / max(workers, 1))))
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


def read_reports(paths: Sequence[Path | str], workers: int | None = None, budget: Budget | None = None,
                 progress: Callable[[int], None] | None = None) -> list[Report | ReadError]:
    """``read_report`` of each path, in worker processes: a report, or the ``ReadError`` saying why
    not — also when reading the file crashed, hung or exhausted a worker's memory."""
    names = [str(p) for p in paths]
    budget = budget or default_budget()
    workers = workers or auto_workers(len(names))
    out: list[Report | ReadError] = []
    for items, outcome in run_chunks(_read_paths, chunked(names, workers, 250), workers, budget=budget, progress=progress):
        if isinstance(outcome, Failed):
            out += [ReadError(Path(name), outcome.reason, outcome.code) for name in items]
        else:
            out += [r if isinstance(r, Report) else ReadError(Path(name), r[0], r[1]) for name, r in zip(items, outcome)]
    return out


__all__ = ["Budget", "Failed", "auto_workers", "chunked", "default_budget", "limit_memory", "log_unexpected", "preload",
           "read_reports", "run_chunks", "tick"]
