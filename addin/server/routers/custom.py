"""Routes of our own on the xlwings Server app (it includes ``routers/custom.py`` of the project
directory): the task pane uploads the units' files for 汇总, the browser downloads the files
that 导出PDF and 汇总 made, and ``/manifest/download`` names the manifest after the add-in.

The upload obeys the server's authentication (``dep.User``: nothing when IT configured none, the
add-in's token when it did). The download does not — a browser opened from Excel or from a
pasted address cannot send it — so the unguessable, expiring token is the key (``addin.excel.transfer``).
Every route here, and every router included into ``router`` later, sits behind
``addin.server.guard.Guard`` (network allow-list, path spellings, body size, cross-site posts); a
route that takes more than ``max_request_mb`` registers with ``guard.allow_large_body``.
"""

from __future__ import annotations

import asyncio
import json
import math
import mimetypes
import os
from urllib.parse import quote

from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.responses import FileResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as StarletteUpload
from starlette.requests import ClientDisconnect
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException
from xlwings_server import dependencies as dep
from xlwings_server.config import settings

import addin.excel.buttons as buttons
from addin.excel.transfer import MAX_FILES, safe_name, upload_limit, upload_total_limit
from addin.server.guard import allow_large_body
from workbook.read import MAX_BYTES

from .inbox import FORM_OVERHEAD
from .inbox import router as inbox_router

#: Everything this project adds, below the app path; include further routers into this one.
router = APIRouter(prefix=settings.app_path)
nianbao = APIRouter(prefix="/nianbao")
CHUNK = 1 << 20
#: The manifest as Office's “upload my add-in” dialog shows the file: ASCII for old browsers,
#: the add-in's Chinese name for the rest (RFC 6266 ``filename*``).
MANIFEST_FILE = ("nianbao-addin-manifest.xml", "政务公开年报-加载项清单.xml")


#: A browser's File.lastModified is milliseconds since 1970; later than 2100 is not a real file time.
MAX_MTIME_MS = 4_102_444_800_000
BAD_MTIMES = "文件修改时间（mtimes）格式不对：应为每个文件一个毫秒数，由任务窗格自动填写。请刷新任务窗格后重新上传。"


def too_large(size: int, limit: int) -> str:
    return (f"一次上传的文件共约 {math.ceil(size / 1024 / 1024)} MB，超过服务器的上限 "
            f"{limit // 1024 // 1024} MB：请分批汇总（可先汇总各乡镇、各部门，再汇总全县）。")


allow_large_body("/nianbao/upload", upload_limit, too_large)
#: Bytes promised to uploads still being received in this process (the quota counts them too).
_reserved = 0
_quota = asyncio.Lock()


@nianbao.post("/upload")
async def upload(request: Request, current_user: dep.User) -> dict[str, object]:
    """Keep the chosen files as one batch; ``mtimes`` (the browser's lastModified, ms) keeps the
    files' own modification times, which decide between two files of one unit.

    The body is parsed here rather than by FastAPI, so that every refusal is in Chinese and comes
    before anything is stored: a request larger than the upload limit is refused from its
    Content-Length without reading it (413), more than ``MAX_FILES`` files stop the parser (400),
    and ``mtimes`` must be plausible times. Copying the files runs in a worker thread, so it never
    holds up other clerks' clicks."""
    limit = upload_limit()
    length = request.headers.get("content-length", "").strip()
    if not length.isdigit():
        raise HTTPException(411, "上传请求没有说明大小（Content-Length），无法接收。请在任务窗格中选择文件上传。")
    size = int(length)
    if size > limit:
        raise HTTPException(413, too_large(size, limit))
    async with UploadReservation(size):
        try:
            form = await request.form(max_files=MAX_FILES, max_fields=16)
        except ClientDisconnect:  # gone, or refused by the guard past the size limit (it answered 413)
            raise HTTPException(413, too_large(size, limit)) from None
        except (StarletteHTTPException, MultiPartException) as exc:
            detail = str(getattr(exc, "detail", "") or getattr(exc, "message", ""))
            if "files" in detail.lower() and "max" in detail.lower():
                raise HTTPException(400, f"一次最多上传 {MAX_FILES} 个文件，请分批汇总（可先汇总各乡镇、各部门，再汇总全县）。") from None
            raise HTTPException(400, "上传的内容不完整或格式不对，请重新选择文件上传。") from None
        try:
            files = [f for f in form.getlist("files") if isinstance(f, StarletteUpload)]
            if not files:
                raise HTTPException(400, "没有收到文件，请先选择各单位报送的文件。")
            mtimes = form.get("mtimes")
            times = parse_mtimes(mtimes if isinstance(mtimes, str) else "", len(files))
            return await run_in_threadpool(_store, files, times)
        finally:
            await form.close()


class UploadReservation:
    """Hold ``size`` bytes of the total upload quota while an upload is received and stored:
    what the batches already hold, plus the uploads in flight, may not pass the quota (507)."""

    def __init__(self, size: int) -> None:
        self.size = size

    async def __aenter__(self) -> None:
        global _reserved
        async with _quota:
            total = upload_total_limit()
            held = await run_in_threadpool(buttons.transfers().usage, "uploads")
            if held + _reserved + self.size > total:
                lifetime = buttons.transfers().lifetime
                raise HTTPException(507, f"服务器上暂存的上传文件已达上限（{total // 1024 // 1024} MB），这次上传没有接收。"
                                         f"未汇总的上传 {lifetime}后自动删除，请稍后再试；"
                                         "或请信息化人员调大配置文件中的 upload_total_mb。")
            _reserved += self.size

    async def __aexit__(self, *exc: object) -> None:
        global _reserved
        _reserved -= self.size


def parse_mtimes(text: str, count: int) -> list[float]:
    """The files' modification times in seconds (0: unknown), from the browser's JSON list of
    milliseconds; anything else is refused in Chinese (400) rather than failing later in
    ``os.utime`` with an English error."""
    if not text.strip():
        return []
    try:
        values = json.loads(text)
    except (ValueError, RecursionError):
        raise HTTPException(400, BAD_MTIMES) from None
    if not isinstance(values, list) or len(values) > count or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and 0 <= v <= MAX_MTIME_MS
            for v in values):
        raise HTTPException(400, BAD_MTIMES)
    return [v / 1000 for v in values]


def _store(files: list[StarletteUpload], times: list[float]) -> dict[str, object]:
    """Copy the uploaded files into a new batch (removed again if anything goes wrong)."""
    store = buttons.transfers()
    token, folder = store.new_batch()
    names: list[str] = []
    try:
        for i, item in enumerate(files):
            name = safe_name(item.filename or "", f"文件{i + 1}.xlsx")
            stem, dot, suffix = name.rpartition(".")
            k = 2
            while name in names:  # two files of the same name from different folders
                name = f"{stem}（{k}）{dot}{suffix}" if dot else f"{name}（{k}）"
                k += 1
            size = 0
            with open(folder / name, "wb") as out:
                while chunk := item.file.read(CHUNK):
                    size += len(chunk)
                    if size > MAX_BYTES:
                        raise HTTPException(400, f"文件“{item.filename}”超过 {MAX_BYTES // 1024 // 1024} MB，"
                                                 "不是正常的年报工作簿，请去掉后重试。")
                    out.write(chunk)
            if i < len(times) and times[i] > 0:
                try:
                    os.utime(folder / name, (times[i], times[i]))
                except (OSError, OverflowError, ValueError):
                    pass  # the file's time stays the upload's: only the choice between duplicates uses it
            names.append(name)
    except BaseException:
        store.discard(folder)
        raise
    return {"batch": token, "files": len(names), "names": names}


@nianbao.get("/download/{token}", response_model=None)
async def download(token: str) -> Response:
    """The file behind a token, as an attachment with its Chinese name; 404 in Chinese once gone."""
    store = buttons.transfers()
    path = store.download(token)
    if path is None:
        return PlainTextResponse(f"下载链接已失效：文件只保留 {store.lifetime}，过期后自动删除（或链接不完整）。"
                                 "请回到 Excel 重新点击“导出PDF”或“汇总”。", status_code=404)
    media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    plain = "nianbao" + path.suffix  # for browsers that ignore filename* (RFC 6266)
    disposition = f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(path.name)}"
    return FileResponse(path, media_type=media, headers={"Content-Disposition": disposition})


router.include_router(inbox_router)  # the browser pages: 单位自查与报送, 县政务公开办收文


def inbox_too_large(size: int, limit: int) -> str:
    return f"文件超过 {MAX_BYTES // 1024 // 1024} MB，不是正常的年报工作簿。"


# The browser pages take one unit's workbook, up to the reader's file limit (they check it again).
for _page in ("check", "marked", "pdf", "submit"):
    allow_large_body(f"/nianbao/inbox/{_page}", lambda: MAX_BYTES + FORM_OVERHEAD, inbox_too_large)


@router.get("/manifest/download")
async def manifest_download(request: Request,
                            protocol: str = Header(default="", alias="X-Forwarded-Proto")) -> Response:
    """The manifest as a file named after the add-in (xlwings names it after the project name's
    ASCII letters, which for 政务公开年报 leaves ``-prod.xml``). ``guard.create_app`` removes
    xlwings' own route of this path so that this one answers."""
    from xlwings_server.routers.manifest import _get_manifest_response

    response = _get_manifest_response(request, protocol, download=False)
    plain, chinese = MANIFEST_FILE
    response.headers["Content-Disposition"] = f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(chinese)}"
    return response


router.include_router(nianbao)
