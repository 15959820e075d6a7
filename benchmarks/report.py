"""Tables: plain text for the terminal, Markdown sections for ``RESULTS.md``."""

from __future__ import annotations

import datetime as _dt
import math
import os
import platform
import re
from pathlib import Path

from .harness import fastest_peer


def machine_description() -> str:
    """CPU model, cores, and the versions that matter for the timings."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions = []
    for mod in ("torch", "numpy", "sklearn", "glum", "skglm"):
        try:
            versions.append(f"{mod} {__import__(mod).__version__}")
        except Exception:
            versions.append(f"{mod} missing")
    import torch

    return (
        f"{cpu}, {os.cpu_count()} cores (torch threads {torch.get_num_threads()}), "
        f"Python {platform.python_version()}; " + ", ".join(versions)
    )


def _fmt_time(t):
    return "—" if not math.isfinite(t) else f"{t:.2f}"


def _fmt_sub(s):
    if not math.isfinite(s):
        return "—"
    return f"{max(s, 0.0):.1e}" if s > 1e-15 else "≤1e-15"


def rows(fits, ref, target):
    peer = fastest_peer(fits, target)
    out = []
    for f in fits:
        ratio = f.time / peer.time if peer and math.isfinite(f.time) else math.nan
        reached = "yes" if f.subopt <= target else ("no" if math.isfinite(f.subopt) else "—")
        out.append(
            [
                f.solver + ("" if f.is_peer else " *"),
                "—" if f.tol is None else f"{f.tol:g}",
                _fmt_time(f.time),
                _fmt_sub(f.subopt),
                reached,
                "—" if not math.isfinite(ratio) else f"{ratio:.2f}",
                "—" if f.n_iter is None else str(f.n_iter),
                "—" if not f.passes else str(f.passes),
                f.note,
            ]
        )
    out.append(
        [
            f"reference: {ref.solver}",
            f"{ref.tol:g}",
            _fmt_time(ref.time),
            _fmt_sub(ref.subopt),
            "",
            "",
            "—" if ref.n_iter is None else str(ref.n_iter),
            "—" if not ref.passes else str(ref.passes),
            f"F* = {ref.objective:.12e}",
        ]
    )
    return out


HEADER = ["solver", "tol", "time (s)", "rel. subopt", "≤ target", "× fastest peer", "iters",
          "passes", "note"]  # fmt: skip


def text_table(fits, ref, target) -> str:
    body = rows(fits, ref, target)
    widths = [max(len(r[i]) for r in [HEADER] + body) for i in range(len(HEADER))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in [HEADER] + body]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_section(problem, fits, ref, target, *, command, n_rows, n_scale, log) -> str:
    body = rows(fits, ref, target)
    peer = fastest_peer(fits, target)
    date = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"<!-- {problem.id} start -->",
        f"## {problem.id}: {problem.description}",
        "",
        f"- date: {date}; rows: {n_rows:,} (n-scale {n_scale:g})",
        f"- machine: {machine_description()}",
        f"- command: `{command}`",
        f"- target: relative suboptimality ≤ {target:g}; fastest peer: "
        + (f"{peer.solver} {peer.time:.2f} s" if peer else "none reached the target"),
        "- `*` = torchlogit; `× fastest peer` = time / the fastest peer's time to the target",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "---|" * len(HEADER),
    ]
    lines += ["| " + " | ".join(c.replace("|", "/") for c in r) + " |" for r in body]
    if log:
        lines += ["", "<details><summary>every fit of the tolerance search</summary>", "", "```"]
        lines += log
        lines += ["```", "</details>"]
    lines.append(f"<!-- {problem.id} end -->")
    return "\n".join(lines) + "\n"


def update_results(path: Path, key: str, section: str) -> None:
    """Replace the ``key`` section of ``path`` (delimited by HTML comments) or append it."""
    text = path.read_text() if path.exists() else "# torchlogit benchmark results\n\n"
    k = re.escape(key)
    pattern = re.compile(rf"<!-- {k} start -->.*?<!-- {k} end -->\n?", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)
