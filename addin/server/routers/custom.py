"""Routes of our own on the xlwings Server app (it includes ``routers/custom.py`` of the project
directory): the task pane uploads the units' files for 汇总, and the browser downloads the files
that 导出PDF and 汇总 made.

The upload obeys the server's authentication (``dep.User``: nothing when IT configured none, the
add-in's token when it did). The download does not — a browser opened from Excel or from a
pasted address cannot send it — so the unguessable, expiring token is the key (``addin.transfer``).
"""

from __future__ import annotations

import json
import mimetypes
import os
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Form, HTTPException, UploadFile
from fastapi.responses import FileResponse, PlainTextResponse, Response
from xlwings_server import dependencies as dep
from xlwings_server.config import settings

from addin import buttons
from addin.transfer import MAX_FILES, safe_name
from workbook.read import MAX_BYTES

router = APIRouter(prefix=f"{settings.app_path}/nianbao")
CHUNK = 1 << 20


@router.post("/upload")
def upload(current_user: dep.User, files: Annotated[list[UploadFile] | None, File()] = None,
           mtimes: Annotated[str, Form()] = "") -> dict[str, object]:
    """Keep the chosen files as one batch; ``mtimes`` (the browser's lastModified, ms) keeps the
    files' own modification times, which decide between two files of one unit. A plain ``def``:
    FastAPI runs it in a worker thread, so copying files never holds up other clerks' clicks."""
    if not files:
        raise HTTPException(400, "没有收到文件，请先选择各单位报送的文件。")
    if len(files) > MAX_FILES:
        raise HTTPException(400, f"一次最多上传 {MAX_FILES} 个文件，请分批汇总（可先汇总各乡镇、各部门，再汇总全县）。")
    try:
        times = [float(t) / 1000 for t in json.loads(mtimes)] if mtimes else []
    except (ValueError, TypeError):
        times = []
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
                os.utime(folder / name, (times[i], times[i]))
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
