"""Routes the xlwings Server app includes from this project (``custom.py``)."""
