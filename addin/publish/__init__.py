"""Publishing a report: the PDF of its tables, HTML and DOCX of the whole report, the CSV/JSON
long format, and the drafted data paragraph of 一、总体情况."""
