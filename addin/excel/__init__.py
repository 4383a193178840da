"""The Excel door: the buttons' core working on an ``xw.Book`` (from a posted payload or the
desktop's ``Book.caller()``), the actions each client can apply, and the files that travel
between the add-in server and the clerk's browser."""
