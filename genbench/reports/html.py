"""report.html: the same content as report.md in one self-contained file (figures embedded),
laid out to fit a 1280-pixel window without sideways scrolling."""

from __future__ import annotations

import base64
from html import escape

from genbench.reports.content import Section
from genbench.reports.table import Table
from genbench.reports.ties import RULE

STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:1.5em auto;padding:0 16px;
color:#222;line-height:1.4}
table{border-collapse:collapse;font-size:14px;margin:.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:4px 8px}table.problems td{overflow-wrap:anywhere}
th{background:#f3f3f3;font-weight:600}td{text-align:right}td.name{text-align:left}
td.best{font-weight:bold;background:#e6f4ea}
.caption,figcaption{color:#555;font-size:14px;margin:.2em 0}
figure{margin:1.5em 0}img{max-width:100%;height:auto;display:block}
.headline{background:#f7f7fb;border-left:4px solid #6a6ad0;padding:.5em 1em;margin:1em 0}
.gate{background:#fdecea;border-left:4px solid #c0392b;padding:.3em .6em}
"""


def table_html(table: Table) -> str:
    best = table.best
    head = "".join(f"<th>{escape(str(c))}</th>" for c in [table.cells.index.name or "",
                                                             *table.cells.columns])
    rows = []
    for model, row in table.cells.iterrows():
        cells = "".join(f"<td{' class=best' if best.at[model, c] else ''}>{escape(str(v))}</td>"
                        for c, v in row.items())
        rows.append(f"<tr><td class=name>{escape(str(model))}</td>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _headline(section: Section) -> str:
    items = "".join(f"<li><b>{escape(f.question)}</b>: {escape(f.model)} ({escape(f.value)})"
                    "</li>" for f in section.findings)
    words = f"<p>{escape(' '.join(section.sentences))}</p>" if section.sentences else ""
    gate = "".join(f"<p class=gate><b>{escape(w)}</b></p>" for w in section.warnings)
    return (f"<div class=headline><h3>{escape(section.dataset)}</h3>{gate}<ul>{items}</ul>"
            f"{words}</div>")


def _figure(png: bytes, caption: str) -> str:
    data = base64.b64encode(png).decode()
    return (f"<figure><img src='data:image/png;base64,{data}' alt='{escape(caption)}'>"
            f"<figcaption>{escape(caption)}</figcaption></figure>")


def _problems(problems: list[dict]) -> str:
    rows = "".join("<tr>" + "".join(f"<td class=name>{escape(str(p.get(k, '')))}</td>"
                                     for k in ("run", "status", "stage", "error")) + "</tr>"
                   for p in problems)
    return ("<h2>Runs without results</h2><table class=problems><thead><tr><th>run</th>"
            "<th>status</th>"
            f"<th>stage</th><th>error</th></tr></thead><tbody>{rows}</tbody></table>")


def report_html(title: str, sections: list[Section], problems: list[dict]) -> str:
    parts = ["<!doctype html><html lang=en><head><meta charset='utf-8'>",
             "<meta name=viewport content='width=device-width, initial-scale=1'>",
             f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>",
             f"<h1>{escape(title)}</h1>", "<h2>Headline</h2>",
             *(_headline(s) for s in sections),
             f"<p class=caption>Best value per column highlighted, {escape(RULE)}</p>"]
    for section in sections:
        parts.append(f"<h2>{escape(section.dataset)}</h2>")
        for table in section.tables:
            parts += [f"<h3>{escape(table.title)}</h3>",
                      f"<p class=caption>{escape(table.caption)}</p>", table_html(table)]
        if section.figures:
            parts.append(f"<h3>Figures: {escape(section.dataset)}</h3>")
        parts += [_figure(shown.html_png, shown.caption) for shown in section.figures]
    if problems:
        parts.append(_problems(problems))
    parts.append("</body></html>")
    return "\n".join(parts)
