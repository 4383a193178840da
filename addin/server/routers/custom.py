"""Routes of our own on the xlwings Server app (it includes ``routers/custom.py`` of the project
directory): the task pane uploads the units' files for 汇总, and the browser downloads the files
that 导出PDF and 汇总 made.

The upload obeys the server's authentication (``dep.User``: nothing when IT configured none, the
add-in's token when it did). The download does not — a browser opened from Excel or from a
pasted address cannot send it — so the unguessable, expiring token is the key (``addin.excel.transfer``).
"""

from __future__ import annotations

import json
import math
import mimetypes
import os
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as StarletteUpload
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException
from xlwings_server import dependencies as dep
from xlwings_server.config import settings

import addin.excel.buttons as buttons
from addin.excel.transfer import MAX_FILES, safe_name, upload_limit
from workbook.read import MAX_BYTES

router = APIRouter(prefix=f"{settings.app_path}/nianbao")
CHUNK = 1 << 20


#: A browser's File.lastModified is milliseconds since 1970; later than 2100 is not a real file time.
MAX_MTIME_MS = 4_102_444_800_000
BAD_MTIMES = "文件修改时间（mtimes）格式不对：应为每个文件一个毫秒数，由任务窗格自动填写。请刷新任务窗格后重新上传。"


@router.post("/upload")
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
    if int(length) > limit:
        raise HTTPException(413, f"一次上传的文件共约 {math.ceil(int(length) / 1024 / 1024)} MB，超过服务器的上限 "
                                 f"{limit // 1024 // 1024} MB：请分批汇总（可先汇总各乡镇、各部门，再汇总全县）。")
    try:
        form = await request.form(max_files=MAX_FILES, max_fields=16)
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


@router.get("/download/{token}", response_model=None)
async def download(token: str) -> Response:
    """The file behind a token, as an attachment with its Chinese name; 404 in Chinese once gone."""
    store = buttons.transfers()
    path = store.download(token)
    if path is None:
        return PlainTextResponse(f"下载链接已失效（超过 {store.lifetime}，或服务器重启过）。请回到 Excel 重新点击“导出PDF”或“汇总”。",
                                 status_code=404)
    media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    plain = "nianbao" + path.suffix  # for browsers that ignore filename* (RFC 6266)
    disposition = f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(path.name)}"
    return FileResponse(path, media_type=media, headers={"Content-Disposition": disposition})
