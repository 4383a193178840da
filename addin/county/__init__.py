"""The county office's year-end work: the unit register, consolidation into a summary workbook,
the audit of published reports and the year-over-year comparison."""
