"""show_trace: one run's span tree as a latency waterfall, with each LLM call's prompt and response.

Self-contained HTML with inline styles, so it reads the same in Jupyter and in the HTML export.
"""

from __future__ import annotations

import html

import pandas as pd

_COLORS = {"llm": "#4e79a7", "chat_model": "#4e79a7", "tool": "#f28e2b", "chain": "#9c9c9c",
           "retriever": "#59a14f", "prompt": "#bab0ac", "parser": "#bab0ac"}


def _ordered(spans: pd.DataFrame) -> list[tuple[int, pd.Series]]:
    """Spans depth-first, parents before children, siblings by start time."""
    spans = spans.sort_values("start_time")
    children: dict[str | None, list] = {}
    ids = set(spans["span_id"])
    for _, span in spans.iterrows():
        parent = span["parent_id"] if span["parent_id"] in ids else None
        children.setdefault(parent, []).append(span)
    out: list[tuple[int, pd.Series]] = []

    def walk(parent, depth):
        for span in children.get(parent, []):
            out.append((depth, span))
            walk(span["span_id"], depth + 1)

    walk(None, 0)
    return out


def trace_html(spans: pd.DataFrame, run_name: str) -> str:
    rows = spans[spans["run_name"].str.lower() == run_name.lower()]
    if rows.empty:
        return f"<p>No spans for run <b>{html.escape(run_name)}</b>.</p>"
    starts = rows["start_time"]
    t0 = starts.min()
    ends = starts + pd.to_timedelta(rows["latency_ms"].fillna(0), unit="ms")
    total_ms = max((ends.max() - t0).total_seconds() * 1000, 1e-6)
    lines = [
        '<div style="font-family:monospace;font-size:12px">',
        f"<div><b>{html.escape(run_name)}</b>: {len(rows)} spans, {total_ms:.1f} ms</div>",
        '<table style="border-collapse:collapse;width:100%">',
    ]
    details = []
    for depth, span in _ordered(rows):
        offset = (span["start_time"] - t0).total_seconds() * 1000 / total_ms * 100
        width = max((span["latency_ms"] or 0) / total_ms * 100, 0.5)
        color = "#e15759" if span["status"] == "error" else _COLORS.get(span["kind"], "#9c9c9c")
        label = f"{'&nbsp;' * 4 * depth}{html.escape(str(span['kind']))}: {html.escape(str(span['name']))}"
        tokens = "" if pd.isna(span["total_tokens"]) else f" · {int(span['total_tokens'])} tok"
        lines.append(
            f'<tr><td style="white-space:nowrap;padding:1px 8px 1px 0">{label}</td>'
            f'<td style="width:55%"><div style="position:relative;height:12px;background:#f3f3f3">'
            f'<div style="position:absolute;left:{offset:.2f}%;width:{width:.2f}%;height:12px;background:{color}"></div>'
            f'</div></td><td style="white-space:nowrap;padding-left:8px">{span["latency_ms"] or 0:.1f} ms{tokens}</td></tr>'
        )
        if span["kind"] in ("llm", "chat_model"):
            details.append(
                f'<details style="margin:4px 0"><summary>{html.escape(str(span["name"]))} '
                f'({span["latency_ms"] or 0:.1f} ms)</summary>'
                f'<div><b>Prompt</b><pre style="white-space:pre-wrap">{html.escape(str(span["input_text"] or ""))}</pre>'
                f'<b>Response</b><pre style="white-space:pre-wrap">{html.escape(str(span["output_text"] or ""))}</pre></div></details>'
            )
    lines.append("</table>")
    lines += details
    lines.append("</div>")
    return "\n".join(lines)


def show_trace(spans: pd.DataFrame, run_name: str):
    """The waterfall and LLM prompts/responses of one run, for display in a notebook."""
    from IPython.display import HTML

    return HTML(trace_html(spans, run_name))
