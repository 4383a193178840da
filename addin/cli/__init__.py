"""The command-line door: ``nianbao`` (a typer app in ``app``, one module per command family,
terminal output in ``terminal``). ``main`` is the installed entry point."""

from addin.cli.app import main

__all__ = ["main"]
