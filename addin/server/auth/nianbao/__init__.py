"""The ``nianbao`` auth provider: one access token per deployment, set by IT.

xlwings Server calls ``validate_token`` with the ``Authorization`` header of every script call
and upload when ``XLWINGS_AUTH_PROVIDERS`` names this provider (``nianbao serve`` does so when a
token is configured). The Office.js task pane sends the token the clerk saved in it
(``static/js/auth.js``); VBA sends ``RunServerPython url, auth:="…"``. Only the token's SHA-256 is
in the server's environment, and the comparison takes constant time.

Named ``nianbao`` rather than ``custom`` on purpose: if this module failed to import, xlwings
would fall back to its own ``custom`` provider, which accepts the fixed word ``test-token``.
"""

from __future__ import annotations

import os

from fastapi import HTTPException, status
from xlwings_server.models import User

from addin.excel.serving import TOKEN_HASH_ENV, token_matches

MISSING = ("需要访问口令：请在任务窗格“访问口令”处填写信息化人员提供的口令并保存（VBA 方式在 RunServerPython 的 "
           "auth 参数中填写），然后重试。")
WRONG = "访问口令不正确：请向信息化人员核对口令，在任务窗格“访问口令”处重新填写并保存后重试。"


async def validate_token(token_string: str) -> User:
    """The clerk's user when the token is the configured one; 401 in Chinese otherwise."""
    expected = os.environ.get(TOKEN_HASH_ENV, "").strip()
    given = token_string or ""
    if token_matches(given, expected):
        return User(id="nianbao-token", name="持有访问口令的用户")
    raise HTTPException(status_code=status.HTTP_401_UNAUTHORIZED, detail=WRONG if given.strip() else MISSING,
                        headers={"WWW-Authenticate": "Bearer"})
