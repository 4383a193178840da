"""No custom worksheet functions: this package only stops xlwings Server from loading its examples."""
