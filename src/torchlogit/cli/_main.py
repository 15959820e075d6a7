"""Argument parsing and dispatch for ``torchlogit <command>``.

A command that fails on its input (a bad data or model file, an invalid option value)
prints one line, ``torchlogit COMMAND: error: ...``, on stderr and exits with status 1;
set ``TORCHLOGIT_TRACEBACK=1`` to see the traceback instead. Warnings print as one line too.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass

from ..distributed import DistributedError


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


COMMANDS: dict[str, Command] = {}


def register_command(name: str, help: str, add_arguments, run) -> None:
    """Make ``torchlogit NAME`` parse with ``add_arguments(parser)`` and call ``run(args)``."""
    COMMANDS[name] = Command(name, help, add_arguments, run)


def build_parser() -> argparse.ArgumentParser:
    from . import _demo, _evaluate, _fit, _predict, _report  # noqa: F401  (register commands)

    parser = argparse.ArgumentParser(
        prog="torchlogit",
        description="Logistic regression on PyTorch, scikit-learn compatible.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for cmd in COMMANDS.values():
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help)
        cmd.add_arguments(p)
        p.set_defaults(_run=cmd.run)
    return parser


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    prefix = f"torchlogit {args.command}"

    def show_warning(message, category, filename, lineno, file=None, line=None):
        print(f"{prefix}: warning: {_one_line(message)}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show_warning
        try:
            return int(args._run(args) or 0)
        except (ValueError, TypeError, OSError, ImportError, DistributedError) as exc:
            if os.environ.get("TORCHLOGIT_TRACEBACK"):
                raise
            print(f"{prefix}: error: {_one_line(exc)}", file=sys.stderr)
            return 1
