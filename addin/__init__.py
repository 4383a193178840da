"""Everything a person touches, grouped by door and by job.

Doors: ``server`` (the xlwings Server project: Office.js and VBA clients post the workbook) and
``cli`` (the ``nianbao`` command). Jobs below them: ``excel`` (the buttons' core on an
``xw.Book``), ``county`` (consolidation, register, summary, audit, compare) and ``publish``
(PDF, HTML/DOCX, CSV/JSON, the drafted paragraph). Imports flow one way —
server, cli → excel → county → publish → checks → workbook — and ``tests/test_layers.py``
fails when one points up or sideways.
"""
