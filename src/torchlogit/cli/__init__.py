"""The ``torchlogit`` command line. Each subcommand lives in its own module and registers
itself in :data:`COMMANDS` with a function that adds its arguments and one that runs it."""

from ._main import COMMANDS, build_parser, main

__all__ = ["COMMANDS", "build_parser", "main"]
