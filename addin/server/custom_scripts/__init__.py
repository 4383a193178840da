"""The scripts xlwings Server runs for the 政务公开年报 buttons (imported by name from here)."""

from .scripts import clear_marks, consolidate, draft, draft_apply, export_pdf, fill_totals, fill_zeros, validate

__all__ = ["clear_marks", "consolidate", "draft", "draft_apply", "export_pdf", "fill_totals", "fill_zeros", "validate"]
