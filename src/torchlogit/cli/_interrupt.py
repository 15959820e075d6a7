"""What Ctrl-C says: where the fit was, that nothing was written, and how to resume."""

from __future__ import annotations

import contextlib


def _iteration(tb) -> int | None:
    """The iteration count of the innermost solver ``solve`` frame in the traceback ``tb``.

    Every solver counts its iterations in a local of its ``solve`` method (``n_iter``, or
    ``epoch`` for the stochastic ones); the traceback of the ``KeyboardInterrupt`` still
    holds those frames. None when the
    interrupt came before the solver started (reading the data) or after it ended.
    """
    found = None
    while tb is not None:
        frame = tb.tb_frame
        if frame.f_code.co_name == "solve":
            for name in ("n_iter", "epoch"):
                value = frame.f_locals.get(name)
                if isinstance(value, int) and not isinstance(value, bool):
                    found = value
                    break
        tb = tb.tb_next
    return found


def interrupted_message(args, exc: BaseException | None = None) -> str:
    """One line for a Ctrl-C during ``args.command``."""
    it = _iteration(exc.__traceback__) if exc is not None else None
    where = f"interrupted at iteration {it}" if it is not None else "interrupted"
    if args.command != "fit":
        return f"{where}; nothing written"
    ckpt = getattr(args, "checkpoint_dir", None)
    if ckpt:
        return (
            f"{where}; nothing written; the solver state is saved in {ckpt}: rerun the same "
            "command to resume"
        )
    return f"{where}; nothing written; rerun with --checkpoint-dir DIR to be able to resume"


def checkpoint_iteration(directory) -> int | None:
    """The iteration a rerun with ``--checkpoint-dir directory`` would resume from.

    Read from the checkpoint's own record; None when there is none or it cannot be read (the
    fit then reports the problem, or starts afresh and says why).
    """
    import json
    from pathlib import Path

    path = Path(directory) / "checkpoint.safetensors"
    if not path.is_file():
        return None
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as fh:
            return int(json.loads(fh.metadata()["torchlogit"])["n_iter"])
    except Exception:  # noqa: BLE001 - only a note: the fit itself reports a bad checkpoint
        return None


@contextlib.contextmanager
def log_above_progress_bars():
    """Route ``print`` through ``tqdm.write`` while the block runs, so that the solver's
    per-iteration lines appear above the streaming progress bars instead of inside them."""
    import sys

    try:
        from tqdm.contrib import DummyTqdmFile
    except ImportError:  # pragma: no cover - tqdm is a base dependency
        yield
        return
    with contextlib.redirect_stdout(DummyTqdmFile(sys.stdout)):
        yield
