"""The HTML pieces of the report: style sheet, tables, figures and placeholders.

Layout rules (checked in a real browser by ``tests/test_report_browser.py``): the page never
scrolls sideways at any width from a phone's to a desktop's — the cards and plots flow in CSS
grids, images scale to their cell, and a table wider than its cell scrolls inside its own box.
"""

from __future__ import annotations

import html

CSS = """
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif;
       max-width: 1280px; margin: 1.5em auto; padding: 0 1em; color: #222; line-height: 1.4; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; overflow-wrap: anywhere; }
h2 { font-size: 1.15em; margin: 1.4em 0 0.4em; }
h3 { font-size: 1em; margin: 0 0 0.3em; }
.sub { color: #666; margin-top: 0; overflow-wrap: anywhere; }
.eval { background: #f6f8fa; border: 1px solid #dde3ea; border-radius: 6px; padding: 0.6em 0.9em;
        overflow-wrap: anywhere; }
.badge { display: inline-block; border-radius: 4px; padding: 0 0.45em; font-weight: 600; }
.in { background: #fff1cc; color: #7a5400; } .out { background: #dcf3e2; color: #1d5e2f; }
.unknown { background: #eee; color: #555; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 440px), 1fr));
         gap: 14px; align-items: start; }
.card { min-width: 0; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; margin: 0.3em 0; font-size: 0.92em; }
td, th { border: 1px solid #ddd; padding: 3px 9px; text-align: right; white-space: nowrap; }
th { background: #f4f4f4; } td.l, th.l { text-align: left; }
td.diag { background: #e6f2e6; font-weight: 600; }
table.kv td { text-align: left; white-space: normal; overflow-wrap: anywhere; }
table.kv td.l { white-space: nowrap; color: #444; }
.plots { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 460px), 1fr));
         gap: 16px; }
figure { margin: 0; min-width: 0; } .plots figure.wide { grid-column: 1 / -1; }
figure img { width: 100%; height: auto; border: 1px solid #eee; display: block; }
figcaption { color: #555; font-size: 0.88em; margin-top: 0.3em; }
.placeholder { border: 1px dashed #bbb; border-radius: 6px; background: #fafafa; color: #555;
               padding: 2em 1.2em; min-height: 12em; display: flex; align-items: center; }
.note { color: #7a5400; }
"""


def esc(value) -> str:
    return html.escape(str(value))


def table(rows, header=None, *, first_left=True, kv=False) -> str:
    """A table in its own horizontal-scroll box; the first column left-aligned. ``kv``: a
    two-column key / value table whose values wrap (text, not numbers)."""
    out = ['<div class="scroll"><table class="kv">' if kv else '<div class="scroll"><table>']
    if header:
        cells = [f'<th class="l">{esc(header[0])}</th>']
        cells += [f"<th>{esc(h)}</th>" for h in header[1:]]
        out.append("<tr>" + "".join(cells) + "</tr>")
    for row in rows:
        first = f'<td class="l">{esc(row[0])}</td>' if first_left else f"<td>{esc(row[0])}</td>"
        out.append("<tr>" + first + "".join(f"<td>{esc(v)}</td>" for v in row[1:]) + "</tr>")
    out.append("</table></div>")
    return "\n".join(out)


def confusion_table(cm, classes) -> str:
    names = [esc(c) for c in classes]
    out = ['<div class="scroll"><table><tr><th class="l">true \\ predicted</th>']
    out += [f"<th>{n}</th>" for n in names] + ["</tr>"]
    for i, row in enumerate(cm):
        out.append(f'<tr><th class="l">{names[i]}</th>')
        out += [f"<td{' class=diag' if i == j else ''}>{int(v)}</td>" for j, v in enumerate(row)]
        out.append("</tr>")
    out.append("</table></div>")
    return "".join(out)


def figure(name: str, caption: str, *, wide: bool = False) -> str:
    """An image with its caption; ``wide``: spans the whole row of the plot grid."""
    return (
        f"<figure{' class=wide' if wide else ''}>"
        f'<img src="{esc(name)}" alt="{esc(caption)}" loading="eager">'
        f"<figcaption>{esc(caption)}</figcaption></figure>"
    )


def placeholder(title: str, why: str) -> str:
    """Where a plot cannot be drawn: a box that says which plot and why, never an empty one."""
    return (
        f'<figure><div class="placeholder" role="img" aria-label="{esc(title)} not drawn">'
        f"<div><h3>{esc(title)}: not drawn</h3>{esc(why)}</div></div></figure>"
    )


def card(title: str, body: str) -> str:
    return f'<div class="card"><h2>{esc(title)}</h2>{body}</div>'
