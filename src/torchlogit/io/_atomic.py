"""The one output-path guard: every file torchlogit writes goes through here.

Rules (issue #12, #13 items 1, 4, 12, 13):

- Only regular files are written. A directory, a device node, a FIFO or a socket at the
  output path is refused with a sentence; a symbolic link to a regular file is written
  *through* (the link stays, its target gets the new content), a link to anything else is
  refused like its target.
- :func:`check_output` (called by the command line before any work) also refuses an output
  that is one of the command's inputs, an existing file unless ``force``, a name whose
  extension does not match the format, and a folder that cannot be written.
- :func:`atomic_path` writes to a temporary file beside the target and renames it over the
  target: the path holds the old complete file or the new one, never a partial one. The
  temporary file is removed on every exit path: an exception, Ctrl-C (``KeyboardInterrupt``)
  and SIGTERM / SIGHUP (removed, then the signal's previous handling goes on).
- A replaced file keeps its permission bits (a 0600 file stays 0600); a new file gets
  ``0666 & ~umask`` as ``open()`` would give it.
- A full disk (or a file-size limit) becomes one :class:`OSError` line naming the output.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import signal
import stat
import tempfile
import threading
from pathlib import Path

__all__ = [
    "OutputPathError",
    "atomic_directory",
    "atomic_path",
    "check_output",
    "check_output_dir",
]


class OutputPathError(ValueError):
    """An output path that torchlogit refuses to write (one sentence that names it)."""


_live: set[Path] = set()  # temporary files and folders that exist right now
_lock = threading.Lock()
_SIGNALS = tuple(getattr(signal, n) for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n))
_previous: dict[int, object] = {}


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            os.unlink(path)


def _on_signal(signum, frame):
    """Remove every live temporary file, then do what the signal did before."""
    with _lock:
        for p in list(_live):
            _remove(p)
        _live.clear()
    previous = _previous.get(signum, signal.SIG_DFL)
    if callable(previous):
        previous(signum, frame)
        return
    if previous == signal.SIG_IGN:
        return
    signal.signal(signum, signal.SIG_DFL)  # die of the signal, as without torchlogit
    os.kill(os.getpid(), signum)


@contextlib.contextmanager
def _tracked(path: Path):
    """Register ``path`` for removal on SIGTERM / SIGHUP while the block runs."""
    main = threading.current_thread() is threading.main_thread()
    with _lock:
        first = not _live
        _live.add(path)
    if first and main:
        for s in _SIGNALS:
            with contextlib.suppress(ValueError, OSError):
                _previous[s] = signal.signal(s, _on_signal)
    try:
        yield
    finally:
        with _lock:
            _live.discard(path)
            last = not _live
        if last and main:
            for s, handler in list(_previous.items()):
                with contextlib.suppress(ValueError, OSError, TypeError):
                    signal.signal(s, handler)
            _previous.clear()


def _kind_of(st) -> str:
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _target(path) -> Path:
    """The regular file that writing ``path`` replaces (a symlink's target), checked."""
    path = Path(path)
    target = path.resolve() if path.is_symlink() else path
    try:
        st = os.stat(target)
    except FileNotFoundError:
        return target
    except OSError as exc:
        raise OutputPathError(f"{path}: cannot be inspected ({exc.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        what = _kind_of(st)
        hint = "; give a file name inside it" if what == "a directory" else ""
        link = f" (a link to {target})" if target != path else ""
        raise OutputPathError(f"{path}{link} is {what}; torchlogit writes only regular files{hint}")
    return target


def _same_file(a: Path, b) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return Path(os.path.abspath(a)) == Path(os.path.abspath(b))


def _writable_dir(path: Path, parent: Path) -> None:
    if not parent.is_dir():
        raise OutputPathError(f"{path}: the folder {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputPathError(f"{path}: the folder {str(parent)!r} is not writable")


def check_output(path, *, inputs=(), force=False, suffixes=None, what="output") -> Path:
    """Refuse, before any work, an output path that the write would get wrong.

    ``inputs``: the files the command reads (never overwritten, even with ``force``);
    ``suffixes``: the allowed endings (``(".safetensors",)``), or None for any;
    ``what``: the kind of file in messages. Returns the path.
    """
    path = Path(path)
    name = path.name.lower()
    if suffixes is not None and path.is_dir():
        raise OutputPathError(
            f"{path} is a directory; give a file name inside it, such as "
            f"{path / ('output' + suffixes[0])}"
        )
    if suffixes is not None and not name.endswith(tuple(suffixes)):
        raise OutputPathError(
            f"{path}: a {what} is written as {' or '.join(suffixes)}; use a name ending in "
            f"{suffixes[0]}"
        )
    target = _target(path)
    for source in inputs:
        if _same_file(target, source) or _same_file(path, source):
            raise OutputPathError(
                f"{path}: is one of this command's inputs; write the {what} to another name"
            )
    if target.exists() and not force:
        raise OutputPathError(f"{path}: already exists; add --force to replace it")
    _writable_dir(path, target.parent if str(target.parent) else Path("."))
    if target.exists() and not os.access(target, os.W_OK):
        raise OutputPathError(f"{path}: exists and is not writable")
    return path


def check_output_dir(path, *, inputs=(), force=False, names=("index.html",)) -> Path:
    """:func:`check_output` for a folder of files (a report): ``path`` must be a folder or
    absent, no input may lie where a file ``names`` will go, and an existing ``index.html``
    (a previous report) is replaced only with ``force``."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputPathError(f"{path}: exists and is not a folder; give a folder for the report")
    for name in names:
        target = _target(path / name)
        if any(_same_file(target, source) for source in inputs if target.exists()):
            raise OutputPathError(
                f"{path / name}: is one of this command's inputs; write the report elsewhere"
            )
    if (path / names[0]).exists() and not force:
        raise OutputPathError(
            f"{path}: already holds a report ({names[0]}); add --force to replace it"
        )
    parent = path if path.is_dir() else (path.parent if str(path.parent) else Path("."))
    _writable_dir(path, parent)
    return path


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _disk_error(path, exc) -> OSError | None:
    """A one-line ``OSError`` for a full disk or a size limit, else None."""
    text = str(exc)
    full = getattr(exc, "errno", None) in (errno.ENOSPC, getattr(errno, "EDQUOT", -1))
    full = full or "No space left" in text or "os error 28" in text
    big = getattr(exc, "errno", None) == errno.EFBIG or "File too large" in text
    if not (full or big):
        return None
    why = "the disk is full" if full else "the file is larger than this system allows"
    return OSError(f"{path}: {why}; nothing was written (the previous file, if any, is intact)")


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path next to ``path``; on success rename it onto ``path``.

    On any exception, Ctrl-C or SIGTERM the temporary file is removed and ``path`` is left
    as it was. ``path`` must be a regular file or absent (a symlink is written through);
    see the module docstring for the rules. The rename is atomic on POSIX and Windows.
    """
    path = Path(path)
    target = _target(path)
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise FileNotFoundError(f"{path}: the directory {str(parent)!r} does not exist")
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    tmp = parent / f".{target.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp"
    with _tracked(tmp):
        try:
            yield tmp
            os.chmod(tmp, mode)  # some writers (safetensors) create files 0600
            os.replace(tmp, target)
        except BaseException as exc:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            disk = _disk_error(path, exc) if isinstance(exc, Exception) else None
            if disk is not None:
                raise disk from None
            raise


@contextlib.contextmanager
def atomic_directory(path):
    """Yield a fresh temporary directory; on success move its files into ``path``.

    ``path`` is created when missing; files already there with other names are kept. On any
    exception (or signal) nothing is written to ``path`` (and it is not created).
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise FileNotFoundError(f"{path}: the directory {str(parent)!r} does not exist")
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"{path}: exists and is not a directory")
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent))
    with _tracked(tmp):
        try:
            yield tmp
            path.mkdir(exist_ok=True)
            for item in sorted(tmp.iterdir()):
                _target(path / item.name)  # never replace a folder or a device in the report
                os.replace(item, path / item.name)
        except Exception as exc:
            disk = _disk_error(path, exc)
            if disk is not None:
                raise disk from None
            raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
