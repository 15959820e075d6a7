"""Argument parsing and dispatch for ``torchlogit <command>``.

A command that fails on its input (a bad data or model file, an invalid option value)
prints one line, ``torchlogit COMMAND: error: ...``, on stderr and exits with status 1;
set ``TORCHLOGIT_TRACEBACK=1`` to see the traceback instead. Warnings print as one line too.
Messages speak the command line's words (``--max-iter``, ``--penalty none``), not Python's
(:func:`torchlogit.cli._vocabulary.to_cli`). Ctrl-C prints one line and exits with 130.

Nothing heavy is imported here or at the top of the command modules: ``torchlogit --help``
and ``torchlogit fit --help`` never load torch, pandas or scikit-learn.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass

from .._version import __version__
from ._vocabulary import to_cli

#: Exit status after Ctrl-C (128 + SIGINT), as a shell reports it.
EXIT_INTERRUPTED = 130
#: Exit status when the output pipe closed early (128 + SIGPIPE).
EXIT_BROKEN_PIPE = 141


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


class _HelpFormatter(argparse.HelpFormatter):
    """Every option's default in its help, unless it has none worth saying (off, not given)
    or the help already says it."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if (
            "default" in text
            or default in (None, False, argparse.SUPPRESS)
            or action.option_strings == []
            or isinstance(default, list)
            and not default
        ):
            return text
        return f"{text} (default: %(default)s)" if text else "default: %(default)s"


def build_parser() -> argparse.ArgumentParser:
    from . import _demo, _evaluate, _fit, _predict, _report, _show, _summary  # noqa: F401

    parser = argparse.ArgumentParser(
        prog="torchlogit",
        description="Logistic regression on PyTorch, scikit-learn compatible.",
    )
    parser.add_argument("--version", action="version", version=f"torchlogit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for cmd in COMMANDS.values():
        p = sub.add_parser(
            cmd.name,
            help=cmd.help,
            description=cmd.help,
            formatter_class=_HelpFormatter,
        )
        cmd.add_arguments(p)
        p.set_defaults(_run=cmd.run)
    return parser


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return to_cli(text or type(exc).__name__)


def _expected_errors() -> tuple[type[BaseException], ...]:
    """The exceptions that are the user's input, not a bug: printed as one line."""
    errors: tuple[type[BaseException], ...] = (ValueError, TypeError, OSError, ImportError)
    if "torchlogit.distributed" in sys.modules:
        errors += (sys.modules["torchlogit.distributed"].DistributedError,)
    return errors


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    prefix = f"torchlogit {args.command}"

    def show_warning(message, category, filename, lineno, file=None, line=None):
        print(f"{prefix}: warning: {_one_line(message)}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show_warning
        try:
            code = int(args._run(args) or 0)
            sys.stdout.flush()  # a closed pipe shows up here, not at interpreter exit
            return code
        except BrokenPipeError:
            # the reader went away (``torchlogit show m | head``): stop quietly, as `yes` does
            with contextlib.suppress(OSError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return EXIT_BROKEN_PIPE
        except KeyboardInterrupt as exc:
            from ._interrupt import interrupted_message

            print(f"{prefix}: {interrupted_message(args, exc)}", file=sys.stderr)
            return EXIT_INTERRUPTED
        except _expected_errors() as exc:
            if os.environ.get("TORCHLOGIT_TRACEBACK"):
                raise
            print(f"{prefix}: error: {_one_line(exc)}", file=sys.stderr)
            return 1
