"""The browser door: the 单位 page (check a workbook, download it marked, its PDF and data
paragraph, submit it) and the 县政务公开办 page (status board, history, files, 汇总), for units
whose WPS or 信创 PCs run neither the Office.js add-in nor xlwings.

Everything here is a door onto code that already exists: the checks are ``nianbao validate``'s
(``addin.county.inbox.examine``), the marks are the 校验 button's own actions applied to the file
(``addin.excel.actions.apply_actions``), the PDF is ``nianbao export --to pdf``'s, the summary
``nianbao consolidate``'s, and the inbox itself lives in ``addin.county.inbox``. The marked workbook
and the PDF are made in worker processes with a memory and a time limit (``inbox_jobs``), at most
``JOBS_AT_ONCE`` at a time: anyone who can reach the page can ask for them.

Uploads are hostile until read: the request's size is checked from its Content-Length before the
body is parsed (the reader's file limit), at most one file is parsed, and the file is read by the
same bounded reader as the command line. Nothing a unit only *checks* is kept: the file lives in a
temporary folder for the length of the request; the page sends it again for each download.

The 单位 routes need no login (the submission code is the key for submitting); the office routes
need the office's session cookie (``SameSite=Strict``, ``HttpOnly``) from the office password, and
the office's POSTs also carry a header a cross-site form cannot send.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import re
import secrets
import shutil
import sqlite3
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException
from xlwings_server.config import settings
from xlwings_server.templates import templates

from addin.county.inbox import (BOARD, STATES, Examined, Inbox, InboxError, Unit, examine, findings_by_table,
                                finding_json, settings_from_environment)
from addin.county.inbox.private import private_dir
from addin.county.model import BOARD_SHEET, DETAIL_SHEET
from addin.excel.buttons import pdf_filename
from addin.publish.data import ExportRefused, prepare, rule_list
from addin.publish.pdf import render_pdf
from addin.publish.safety import safe_name
from addin.server.guard import CLIENT_STATE
from addin.server.routers.inbox_jobs import mark_isolated, pdf_isolated
from workbook.office import OfficeMissing
from workbook.read import MAX_BYTES

log = logging.getLogger(__name__)

#: Where the pages live (``routers/custom.py`` includes this router into its app-path router).
BASE = f"{settings.app_path}/nianbao/inbox"
router = APIRouter(prefix="/nianbao/inbox")
COOKIE = "nb_office"
#: The office page's own scripts send this header; a form posted from another site cannot.
AJAX_HEADER = "x-nianbao"
#: Room for the multipart framing and the small fields around the one file.
FORM_OVERHEAD = 64 * 1024
CHUNK = 1 << 20
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_STAMP = re.compile(r"\d{8}-\d{6}-[0-9a-f]{6}")
#: Marked workbooks and PDFs made at the same time by this process (each in a worker of its own
#: with a memory limit): anyone can ask for them, so the number of such workers is bounded too.
JOBS_AT_ONCE = 2
_JOBS = asyncio.Semaphore(JOBS_AT_ONCE)
#: The pages' stylesheet, put inside a downloaded receipt so that it reads the same offline.
STYLESHEET = Path(__file__).resolve().parents[1] / "static" / "inbox" / "inbox.css"


# ------------------------------------------------------------------------------------------
# Plumbing
# ------------------------------------------------------------------------------------------

@functools.cache
def _inbox() -> Inbox:
    """The inbox of this server process (its folders are made and reconciled on first use)."""
    box = Inbox(settings_from_environment())
    for line in box.repairs:
        log.warning("收文夹修复：%s", line)
    return box


def inbox() -> Inbox:
    try:
        return _inbox()
    except InboxError:
        raise
    except (OSError, sqlite3.Error) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InboxError(f"收文夹或数据库无法打开（{why}）：请把这条提示转给信息化人员。", 503) from None


def refuse(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def answers(func: Callable[..., Awaitable[Response]]) -> Callable[..., Awaitable[Response]]:
    """Turn every refusal into a Chinese JSON answer, and anything unforeseen into a Chinese 500
    (the traceback goes to the server log, never to the page)."""
    @functools.wraps(func)
    async def run(*args: Any, **kwargs: Any) -> Response:
        try:
            return await func(*args, **kwargs)
        except InboxError as exc:
            return refuse(str(exc), exc.status)
        except Exception:
            log.exception("inbox route %s failed", func.__name__)
            return refuse("服务器处理时出现内部错误，未做任何改动。请稍后重试，或把这条提示转给信息化人员。", 500)
    return run


def attachment(path: Path, filename: str, media: str, cleanup: Path | None = None) -> FileResponse:
    """A download with its Chinese name (RFC 6266), removing ``cleanup`` once sent."""
    plain = "nianbao" + Path(filename).suffix
    headers = {"Content-Disposition": f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(filename)}"}
    task = BackgroundTask(shutil.rmtree, cleanup, ignore_errors=True) if cleanup else None
    return FileResponse(path, media_type=media, headers=headers, background=task)


def client_of(request: Request) -> str:
    """The client's address as the guard judged it (``X-Forwarded-For`` believed only from the
    configured ``trusted_proxies``), so that attempts are counted per person, not per proxy. The
    TCP peer only where no guard runs in front (never in ``nianbao serve``)."""
    judged = request.scope.get("state", {}).get(CLIENT_STATE)
    if isinstance(judged, str):
        return judged
    return request.client.host if request.client else ""


async def sign_in(request: Request, box: Inbox, code: str) -> Unit:
    """The unit of ``code``, after the slow-down an attack on the codes has earned everyone
    (``Inbox.delay``), slept here without holding a thread."""
    await asyncio.sleep(await run_in_threadpool(box.delay, code))
    return await run_in_threadpool(box.authenticate, code, client_of(request))


class Upload:
    """The one file of a multipart request, copied to a private temporary folder (removed by
    ``close``), and the form's text fields."""

    def __init__(self, folder: Path, path: Path, name: str, fields: dict[str, str]) -> None:
        self.folder, self.path, self.name, self.fields = folder, path, name, fields

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


async def receive(request: Request, need_file: bool = True) -> Upload:
    """Parse a small multipart form with at most one file, refusing in Chinese before storing
    anything: no Content-Length (411), larger than the reader's file limit (413), broken (400)."""
    length = request.headers.get("content-length", "").strip()
    if not length.isdigit():
        raise InboxError("上传请求没有说明大小（Content-Length），无法接收。请在网页上选择文件上传。", 411)
    if int(length) > MAX_BYTES + FORM_OVERHEAD:
        raise InboxError(f"文件超过 {MAX_BYTES // 1024 // 1024} MB，不是正常的年报工作簿。", 413)
    try:
        form = await request.form(max_files=1, max_fields=8)
    except (StarletteHTTPException, MultiPartException):
        raise InboxError("上传的内容不完整或格式不对，请重新选择文件。") from None
    folder = Path(tempfile.mkdtemp(prefix="nianbao-inbox-"))
    try:
        fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
        item = form.get("file")
        if not isinstance(item, UploadFile):
            if need_file:
                raise InboxError("没有收到文件，请先选择填好的年报工作簿。")
            return Upload(folder, folder / "none", "", fields)
        name = safe_name(item.filename or "", "年报.xlsx")
        suffix = Path(name).suffix.lower()  # openpyxl goes by the suffix
        path = folder / ("upload" + (suffix if suffix in (".xlsx", ".xlsm", ".xltx", ".xltm") else ".xlsx"))
        size = 0
        with open(path, "wb") as out:
            while chunk := await item.read(CHUNK):
                size += len(chunk)
                if size > MAX_BYTES:
                    raise InboxError(f"文件超过 {MAX_BYTES // 1024 // 1024} MB，不是正常的年报工作簿。", 413)
                out.write(chunk)
        return Upload(folder, path, name, fields)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    finally:
        await form.close()


def examined_json(ex: Examined) -> dict[str, Any]:
    """What the 单位 page shows: the verdict, the counts, the findings by table, the paragraph."""
    r = ex.result
    report = ex.report
    return {"file": r.path, "unit": r.unit, "year": r.year, "error": r.error,
            "verdict": f"无法读取：{r.error}" if r.error else r.verdict(),
            "hard": len(r.hard), "soft": len(r.soft), "open_soft": len(ex.open_soft),
            "groups": findings_by_table(ex), "draft": ex.draft,
            "findings": [finding_json(f) for f in r.findings],
            "can_export": report is not None and not r.error and not r.hard}


# ------------------------------------------------------------------------------------------
# 单位 page
# ------------------------------------------------------------------------------------------

@router.get("", response_class=HTMLResponse, include_in_schema=False)
@router.get("/", response_class=HTMLResponse)
async def unit_page(request: Request) -> Response:
    try:
        box: Inbox | None = inbox()
        problem = ""
        open_ = bool(box.units()) if box else False
    except (InboxError, sqlite3.Error) as exc:
        box, open_ = None, False
        problem = str(exc) if isinstance(exc, InboxError) else "收文数据库无法读取，网上报送暂不可用。请把这条提示转给信息化人员。"
    return templates.TemplateResponse(request, "inbox/unit.html",
                                      {"base": BASE, "problem": problem, "open": open_,
                                       "year": box.settings.year if box else None})


@router.post("/check")
@answers
async def check(request: Request) -> Response:
    """The findings of the chosen workbook, exactly as ``nianbao validate`` gives them."""
    up = await receive(request)
    try:
        ex = await run_in_threadpool(examine, up.path, up.name)
        return JSONResponse(examined_json(ex))
    finally:
        up.close()


@router.post("/marked")
@answers
async def marked(request: Request) -> Response:
    """Download the workbook with the marks and the 校验结果 sheet, made now and not kept."""
    up = await receive(request)
    try:
        ex = await run_in_threadpool(examine, up.path, up.name)
        if ex.report is None:
            raise InboxError(f"文件无法读取：{ex.result.error}")
        out = up.folder / "marked.xlsx"
        async with _JOBS:
            done = await run_in_threadpool(mark_isolated, up.path, out)
        if done.status:
            raise InboxError(done.message, done.status)
        stem = Path(up.name).stem
        return attachment(out, f"{stem}-校验标记.xlsx", XLSX, cleanup=up.folder)
    except BaseException:
        up.close()
        raise


@router.post("/pdf")
@answers
async def pdf(request: Request) -> Response:
    """The PDF of the three tables (``nianbao export --to pdf``), refused while errors remain."""
    up = await receive(request)
    try:
        ex = await run_in_threadpool(examine, up.path, up.name)
        if ex.report is None:
            raise InboxError(f"文件无法读取：{ex.result.error}")
        try:
            prepare(ex.report)  # refused at once while errors remain, before a worker is started
        except ExportRefused as exc:
            raise InboxError(f"工作簿有 {len(exc.hard)} 处错误（{rule_list(exc.hard)}），不能导出 PDF。请先改正红色标记的错误。",
                             409) from None
        out = up.folder / "report.pdf"
        async with _JOBS:
            done = await run_in_threadpool(pdf_isolated, ex.report, out)
        if done.status:
            raise InboxError(done.message, done.status)
        return attachment(out, pdf_filename(ex.report, up.name), "application/pdf", cleanup=up.folder)
    except BaseException:
        up.close()
        raise


@router.post("/submit")
@answers
async def submit(request: Request) -> Response:
    """报送: the code names the unit; the file is checked again and kept (in force, or refused
    with the reason); the answer is the receipt."""
    up = await receive(request)
    try:
        box = inbox()
        unit = await sign_in(request, box, up.fields.get("code", ""))
        await run_in_threadpool(box.reserve_upload, unit)
        ex = await run_in_threadpool(examine, up.path, up.name)
        sub = await run_in_threadpool(box.submit, unit, up.path, up.name, ex, client_of(request))
        body = sub.to_json(with_findings=True) | {"accepted": sub.state == "current",
                                                  "receipt_url": f"{BASE}/receipt/{sub.receipt_key}",
                                                  "check": examined_json(ex)}
        return JSONResponse(body)
    finally:
        up.close()


@router.post("/withdraw")
@answers
async def withdraw(request: Request) -> Response:
    up = await receive(request, need_file=False)
    try:
        box = inbox()
        unit = await sign_in(request, box, up.fields.get("code", ""))
        sub = await run_in_threadpool(box.withdraw, unit)
        return JSONResponse({"unit": unit.name, "number": sub.number, "message":
                             f"已撤回“{unit.name}”第 {sub.number} 号报送。县政务公开办的名单上将显示为“{BOARD['withdrawn']}”，需要时请重新报送。"})
    finally:
        up.close()


@router.get("/receipt/{key}", response_class=HTMLResponse)
async def receipt(request: Request, key: str, download: int = 0) -> Response:
    """The receipt as a printable page; ``?download=1`` as a file to keep."""
    try:
        sub = inbox().receipt(key) if re.fullmatch(r"[A-Za-z0-9_-]{16,40}", key) else None
    except InboxError:
        sub = None
    if sub is None:
        return HTMLResponse("<!doctype html><meta charset=utf-8><title>回执</title><p>没有这份回执。</p>", status_code=404)
    css = STYLESHEET.read_text(encoding="utf-8") if download else ""
    response = templates.TemplateResponse(request, "inbox/receipt.html", {
        "sub": sub, "base": BASE, "host": str(request.base_url), "state_label": STATES.get(sub.state, sub.state),
        "inline_css": css})
    if download:
        name = safe_name(f"报送回执-{sub.unit}-{sub.number}.html", "报送回执.html", strip_path=False)
        response.headers["Content-Disposition"] = f"attachment; filename=\"receipt.html\"; filename*=UTF-8''{quote(name)}"
    return response


# ------------------------------------------------------------------------------------------
# 县政务公开办 page
# ------------------------------------------------------------------------------------------

def office_session(request: Request) -> bool:
    try:
        return inbox().session_valid(request.cookies.get(COOKIE, ""))
    except InboxError:
        return False


def require_office(request: Request, post: bool = False) -> Inbox:
    if post and request.headers.get(AJAX_HEADER) != "1":
        raise InboxError("请在县政务公开办页面上操作。", 403)
    if not office_session(request):
        raise InboxError("请先登录（县政务公开办密码），或登录已过期。", 401)
    return inbox()


@router.get("/office", response_class=HTMLResponse)
async def office_page(request: Request) -> Response:
    try:
        box: Inbox | None = inbox()
        problem = "" if box and box.settings.office_password else \
            "服务器的配置文件中没有设置县政务公开办的密码（[inbox] office_password），办公室页面不可用。"
    except InboxError as exc:
        box, problem = None, str(exc)
    return templates.TemplateResponse(request, "inbox/office.html",
                                      {"base": BASE, "problem": problem, "logged_in": not problem and office_session(request)})


@router.post("/office/login")
@answers
async def office_login(request: Request) -> Response:
    up = await receive(request, need_file=False)
    try:
        if request.headers.get(AJAX_HEADER) != "1":
            raise InboxError("请在县政务公开办页面上登录。", 403)
        box = inbox()
        await asyncio.sleep(await run_in_threadpool(box.delay, None))  # no thread held while it waits
        token = await run_in_threadpool(box.office_login, up.fields.get("password", ""), client_of(request))
    finally:
        up.close()
    response = JSONResponse({"ok": True})
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path=BASE,
                        secure=request.url.scheme == "https", max_age=8 * 3600)
    return response


@router.post("/office/logout")
@answers
async def office_logout(request: Request) -> Response:
    box = require_office(request, post=True)
    box.office_logout(request.cookies.get(COOKIE, ""))
    response = JSONResponse({"ok": True})
    response.delete_cookie(COOKIE, path=BASE)
    return response


@router.get("/office/board")
@answers
async def board(request: Request) -> Response:
    box = require_office(request)
    rows = await run_in_threadpool(box.board)
    counts = {key: sum(1 for r in rows if r.status == key) for key in BOARD}
    return JSONResponse({"rows": [r.to_json() for r in rows], "counts": counts, "labels": BOARD,
                         "total": len(rows), "at": dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
                         "year": box.settings.year, "name": box.settings.name})


@router.get("/office/history/{unit_id}")
@answers
async def history(request: Request, unit_id: int) -> Response:
    box = require_office(request)
    unit = box.unit(unit_id)
    subs = await run_in_threadpool(box.history, unit_id)
    return JSONResponse({"unit": unit.name, "items": [s.to_json(with_findings=True) |
                                                      {"file_url": f"{BASE}/office/file/{s.id}" if s.stored else None,
                                                       "receipt_url": f"{BASE}/receipt/{s.receipt_key}"} for s in subs]})


@router.get("/office/file/{submission_id}", response_model=None)
@answers
async def stored_file(request: Request, submission_id: int) -> Response:
    box = require_office(request)
    sub = box.submission(submission_id)
    path = box.file_of(submission_id)
    name = safe_name(f"{sub.unit}-第{sub.number}号报送.xlsx", "报送.xlsx", strip_path=False)
    return attachment(path, name, XLSX)


@router.get("/office/files.zip", response_model=None)
@answers
async def all_files(request: Request) -> Response:
    box = require_office(request)
    folder = Path(tempfile.mkdtemp(prefix="nianbao-zip-"))
    try:
        target = folder / "files.zip"
        await run_in_threadpool(box.zip_current, target)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M")
    return attachment(target, f"收文-在用文件-{stamp}.zip", "application/zip", cleanup=folder)


def summaries_dir(box: Inbox) -> Path:
    return box.settings.data_dir / "汇总"


def _consolidate(box: Inbox) -> dict[str, Any]:
    """汇总 into a new folder of its own beside the database; then the PDF, as ``nianbao export``."""
    stamp = f"{dt.datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
    folder = private_dir(summaries_dir(box)) / stamp
    result = box.consolidate(folder)
    xlsx = result.output
    lines = [f"已汇总 {len(result.included)} 个单位：{result.name}{result.year}年度，{result.scope_label}。"]
    if result.missing:
        lines.append(f"单位名单中有 {len(result.missing)} 个单位未报送：" + "、".join(e.name for e, _ in result.missing[:20])
                     + ("等" if len(result.missing) > 20 else "") + "。")
    left = [s for s in result.sources if s.status not in ("summed",)]
    if left:
        lines.append(f"另有 {len(left)} 个文件未汇总，原因见汇总表的“{BOARD_SHEET}”页。")
    own = [f for f in result.summary_findings if f.severity == "hard"]
    pdf_note = ""
    pdf_url = ""
    try:
        data = prepare(xlsx)
        render_pdf(data, folder / (xlsx.stem + ".pdf"))
        pdf_url = f"{BASE}/office/summary/{stamp}/pdf"
    except ExportRefused as exc:
        pdf_note = f"汇总表有 {len(exc.hard)} 处错误（{rule_list(exc.hard)}），未生成 PDF（与 nianbao export 相同）。"
    except OfficeMissing as exc:
        pdf_note = f"服务器上无法生成 PDF：{exc}"
    if own:
        lines.append(f"汇总数本身有 {len(own)} 处错误，见汇总表的“校验结果”页。")
    lines.append(f"汇总表含{DETAIL_SHEET}、{BOARD_SHEET}、校验结果和图表；与命令行 nianbao consolidate 对收文夹的结果相同。")
    return {"lines": lines, "xlsx_url": f"{BASE}/office/summary/{stamp}/xlsx", "xlsx_name": xlsx.name,
            "pdf_url": pdf_url, "pdf_note": pdf_note, "included": len(result.included),
            "missing": len(result.missing), "exit_code": result.exit_code}


@router.post("/office/consolidate")
@answers
async def consolidate_inbox(request: Request) -> Response:
    box = require_office(request, post=True)
    return JSONResponse(await run_in_threadpool(_consolidate, box))


@router.get("/office/summary/{stamp}/{kind}", response_model=None)
@answers
async def summary_file(request: Request, stamp: str, kind: str) -> Response:
    box = require_office(request)
    if not _STAMP.fullmatch(stamp) or kind not in ("xlsx", "pdf"):
        raise InboxError("没有这个文件。", 404)
    found = sorted((summaries_dir(box) / stamp).glob(f"*.{kind}"))
    found = [p for p in found if not p.name.startswith(".")]
    if not found:
        raise InboxError("没有这个文件。", 404)
    return attachment(found[0], found[0].name, XLSX if kind == "xlsx" else "application/pdf")


@router.post("/office/reset/{unit_id}")
@answers
async def reset_code(request: Request, unit_id: int) -> Response:
    box = require_office(request, post=True)
    issued = await run_in_threadpool(box.reset_code, unit_id)
    return JSONResponse({"unit": issued.unit.name, "code": issued.code})


@router.post("/office/return/{submission_id}")
@answers
async def return_submission(request: Request, submission_id: int) -> Response:
    box = require_office(request, post=True)
    up = await receive(request, need_file=False)
    try:
        sub = await run_in_threadpool(box.return_submission, submission_id, up.fields.get("reason", ""))
    finally:
        up.close()
    return JSONResponse({"unit": sub.unit, "number": sub.number})
