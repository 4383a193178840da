"""Everything a person touches: the Excel buttons (xlwings), the add-in server and the command line."""
