"""Argument parsing and dispatch for ``torchlogit <command>``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass


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
    from . import _demo  # noqa: F401  (registers its command)

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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    return int(args._run(args) or 0)
