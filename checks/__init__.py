"""The rules as pandera schemas generated from the spec, and findings as data."""

from .engine import validate_report, validate_reports
from .files import validate_paths
from .findings import FileResult, Finding

__all__ = ["FileResult", "Finding", "validate_paths", "validate_report", "validate_reports"]
