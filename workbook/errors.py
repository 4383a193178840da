"""Operating-system errors in Chinese: every door (reader, importer, command line) says the same."""

from __future__ import annotations

import errno

_ERRNO_TEXT = {errno.ENOENT: "文件或文件夹不存在", errno.EACCES: "没有访问权限", errno.EPERM: "没有访问权限",
               errno.ENOSPC: "磁盘空间不足", errno.EISDIR: "这是文件夹，不是文件", errno.ENOTDIR: "路径中有一部分不是文件夹",
               errno.EROFS: "磁盘为只读"}


def os_error_reason(exc: OSError) -> str:
    """What went wrong, without the file name."""
    return _ERRNO_TEXT.get(exc.errno or -1, exc.strerror or str(exc))


def os_error_text(exc: OSError) -> str:
    """What went wrong, naming the file."""
    what = os_error_reason(exc)
    return f"{what}：{exc.filename}" if exc.filename else what
