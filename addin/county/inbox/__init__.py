"""The county's inbox: units submit their workbooks online, the office sees who has and who has not.

Why it is built this way:

* **The folder is the one ``nianbao consolidate`` reads.** Each unit's file in force lies in the
  inbox folder as ``<单位名称>.xlsx`` — one per unit, so the consolidation never has to choose
  between duplicates. Everything else the inbox keeps (replaced, withdrawn, returned and refused
  files) lies below hidden folders (``.history``), which the consolidation skips like every hidden
  file (``checks.files.expand``). The office can therefore always run the command line on the
  folder and get exactly what the 汇总 button gives.
* **Files and records move together.** The SQLite database (standard library, WAL mode) records
  every submission; nothing is deleted or overwritten — a replaced file moves to the history and
  its record says where. A submission's file is copied to a temporary name, its record inserted in
  a write transaction, the files renamed into place, and only then is the transaction committed
  (any failure before that undoes the renames and rolls back). A crash in between leaves a file
  that no record names, or a file at a place its record does not say; ``reconcile`` — run whenever
  the inbox is opened — puts records' files back where their records say and moves any file no
  record names to ``.orphans`` (temporary files are deleted). So ``database rows = files`` holds
  after every start.
* **Codes are secrets the server cannot read back.** A code is ``HHHH-SSSS-SSSS``: a random public
  handle that finds the unit (never a sequence number, so codes reveal nothing about other units)
  and a secret stored only as a salted scrypt hash. A wrong handle and a wrong secret are refused
  with the same words after the same work, and failed attempts are counted in the database (shared
  by all server processes) per (address, unit) and per address, each locking out only that address
  for a while; an attack from many addresses slows everyone down but refuses no right code.
* **What one code holder can make the server keep is bounded**: unreadable files are recorded, not
  kept; submissions per hour, records and kept bytes per unit and in all are capped. The folders
  are 0700 and the files 0600.
* **What a unit sees is what ``nianbao validate`` says**, from the same reader and checks; a
  submission is refused while errors remain or a 提示 is neither fixed nor explained on 说明.

This package is the county layer: the web pages (``addin/server/routers/inbox.py``) and
``nianbao serve --units`` are thin doors onto it.

Modules: ``settings`` (the ``[inbox]`` config), ``codes`` (making, hashing and printing codes),
``records`` (units, submissions, a checked upload), ``store`` (the folder and the database),
``private`` (folders and files only the server's account can read).
"""

from __future__ import annotations

from addin.county.inbox.codes import split_code, write_codes
from addin.county.inbox.records import (BOARD, STATES, BoardRow, Examined, IssuedCode, Submission, Unit, examine,
                                        finding_json, findings_by_table)
from addin.county.inbox.settings import (CONFIG_ENV, InboxError, InboxSettings, RateLimited, load_settings,
                                         settings_from_environment)
from addin.county.inbox.store import Inbox, register_units

__all__ = ["BOARD", "CONFIG_ENV", "STATES", "BoardRow", "Examined", "Inbox", "InboxError", "InboxSettings", "IssuedCode",
           "RateLimited", "Submission", "Unit", "examine", "register_units", "finding_json", "findings_by_table", "load_settings",
           "settings_from_environment", "split_code", "write_codes"]
