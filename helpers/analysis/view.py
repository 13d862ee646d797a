"""show_trace: a run's top-level calls, newest first, each a span tree with a latency waterfall on its own axis.

Plain divs with inline styles and the tree drawn in the label text itself (├─, └─), so it reads the same in
Jupyter, JupyterLab/Studio and the HTML export, whatever their table styles. Kind is a colour, with a legend.
A segment of the trace that could not be read (a row of kind "unreadable_segment") is named above the calls.
"""

from __future__ import annotations

import html

import pandas as pd

from .traces import UNREADABLE_KIND

KIND_COLORS = {"llm": "#4e79a7", "chat_model": "#4e79a7", "tool": "#f28e2b", "chain": "#9c9c9c",
               "retriever": "#59a14f", "prompt": "#d4a6c8", "parser": "#b07aa1"}
ERROR_COLOR = "#e15759"
_OTHER_COLOR = "#bab0ac"
_LLM_KINDS = ("llm", "chat_model")
_EXCERPT = 80


def _tree(spans: pd.DataFrame) -> list[tuple[str, pd.Series]]:
    """Spans depth-first, parents before children, siblings by start time, with their connector prefix."""
    spans = spans.sort_values("start_time", kind="stable")
    ids = set(spans["span_id"])
    children: dict[str | None, list[pd.Series]] = {}
    for _, span in spans.iterrows():
        parent = span["parent_id"] if span["parent_id"] in ids else None
        children.setdefault(parent, []).append(span)
    out: list[tuple[str, pd.Series]] = []

    def walk(parent, lead: str, top: bool):
        kids = children.get(parent, [])
        for index, span in enumerate(kids):
            last = index == len(kids) - 1
            out.append(("" if top else lead + ("└─ " if last else "├─ "), span))
            walk(span["span_id"], "" if top else lead + ("   " if last else "│  "), False)

    walk(None, "", True)
    return out


def _ms(value) -> float:
    return 0.0 if value is None or pd.isna(value) else float(value)


def _excerpt(text, limit: int = _EXCERPT) -> str:
    flat = " ".join(str(text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _prompt_excerpt(text, kind: str) -> str:
    """The start of a completion prompt; for a chat, its last message (what is new in this call)."""
    lines = [line for line in str(text or "").splitlines() if line.strip()]
    if kind == "chat_model" and len(lines) > 1:
        return "… " + _excerpt(lines[-1])
    return _excerpt(text)


def _legend(kinds) -> str:
    items = [(k, KIND_COLORS.get(k, _OTHER_COLOR)) for k in dict.fromkeys(kinds)] + [("error", ERROR_COLOR)]
    return '<div style="margin:2px 0 6px 0">' + " ".join(
        f'<span style="display:inline-block;margin-right:10px"><span style="display:inline-block;width:10px;'
        f'height:10px;background:{color};margin-right:3px"></span>{html.escape(str(kind))}</span>'
        for kind, color in items) + "</div>"


def _trace_block(spans: pd.DataFrame, llm_numbers: dict) -> str:
    """One top-level call: header (start time, duration, status), legend, waterfall rows, LLM details."""
    t0 = spans["start_time"].min()
    ends = spans["start_time"] + pd.to_timedelta(spans["latency_ms"].fillna(0), unit="ms")
    total_ms = max((ends.max() - t0).total_seconds() * 1000 if pd.notna(t0) else 0.0, 1e-6)
    tree = _tree(spans)
    root = tree[0][1]
    failed = (spans["status"] == "error").sum()
    when = t0.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC" if pd.notna(t0) else "unknown time"
    head = (f'<div class="trace-header" style="font-weight:bold;margin-top:10px">{html.escape(when)} · '
            f'{html.escape(str(root["kind"]))}: {html.escape(str(root["name"]))} · {total_ms:.1f} ms · '
            f'{len(spans)} spans{f" · {failed} failed" if failed else ""}</div>')
    rows, details = [], []
    for prefix, span in tree:
        start = (span["start_time"] - t0).total_seconds() * 1000 if pd.notna(span["start_time"]) else 0.0
        offset, width = start / total_ms * 100, max(_ms(span["latency_ms"]) / total_ms * 100, 0.4)
        error = span["status"] == "error"
        color = ERROR_COLOR if error else KIND_COLORS.get(span["kind"], _OTHER_COLOR)
        kind, name = html.escape(str(span["kind"])), html.escape(str(span["name"]))
        number = llm_numbers.get(span["span_id"])
        tag = f" #{number}" if number else ""
        tokens = "" if pd.isna(span["total_tokens"]) else f" · {int(span['total_tokens'])} tok"
        rows.append(
            f'<div class="span-row" data-depth="{len(prefix) // 3}" style="display:flex;align-items:flex-start;'
            f'border-top:1px solid #eee;padding:1px 0">'
            f'<div style="flex:0 0 42%;display:flex;min-width:0;text-align:left">'
            f'<span class="span-tree" style="white-space:pre;flex:none;color:#888">{prefix}</span>'
            f'<span class="span-name" title="{kind}: {name}" style="flex:1;min-width:0;overflow-wrap:anywhere;'
            f'white-space:normal"><span style="color:{color};font-weight:bold">■</span> '
            f'{kind}{tag}: {name}</span></div>'
            f'<div style="flex:1;position:relative;height:12px;margin:3px 6px 0 6px;background:#f3f3f3">'
            f'<div title="{_ms(span["latency_ms"]):.1f} ms" style="position:absolute;left:{offset:.2f}%;'
            f'width:{width:.2f}%;height:12px;background:{color}"></div></div>'
            f'<div style="flex:0 0 11em;text-align:left;white-space:nowrap">{_ms(span["latency_ms"]):.1f} ms'
            f'{tokens}{" · error" if error else ""}</div></div>')
        if span["kind"] in _LLM_KINDS:
            details.append(
                f'<details style="margin:3px 0"><summary>LLM call {number} of {len(llm_numbers)} · '
                f'{_ms(span["latency_ms"]):.1f} ms · {html.escape(_prompt_excerpt(span["input_text"], span["kind"]))}</summary>'
                f'<div style="text-align:left"><b>Prompt</b><pre style="white-space:pre-wrap">'
                f'{html.escape(str(span["input_text"] or ""))}</pre><b>Response</b><pre style="white-space:pre-wrap">'
                f'{html.escape(str(span["output_text"] or ""))}</pre></div></details>')
        if error and span.get("error"):
            details.append(f'<div style="color:{ERROR_COLOR}">{kind}: {name} failed: '
                           f'{html.escape(str(span["error"]))}</div>')
    axis = ('<div style="display:flex;color:#888"><div style="flex:0 0 42%"></div><div style="flex:1;display:flex;'
            f'justify-content:space-between;margin:0 6px">'
            f'<span>0 ms</span><span>{total_ms / 2:.1f} ms</span><span>{total_ms:.1f} ms</span></div>'
            '<div style="flex:0 0 11em"></div></div>')
    return "\n".join([f'<div class="trace" data-trace-id="{html.escape(str(root["trace_id"]))}">', head,
                      _legend(spans["kind"]), *rows, axis, *details, "</div>"])


def _unreadable_notice(markers: pd.DataFrame) -> str:
    """A warning naming each segment of the trace that could not be read (its spans are not shown)."""
    if markers.empty:
        return ""
    items = "".join(f"<li>{html.escape(str(error))}</li>" for error in markers["error"])
    return (f'<div class="unreadable-segments" style="color:{ERROR_COLOR}">{len(markers)} segment'
            f'{"s" * (len(markers) != 1)} of this trace could not be read; the calls below are what the other '
            f"segments hold:<ul style=\"margin:2px 0\">{items}</ul></div>")


def trace_html(spans: pd.DataFrame, run_name: str, max_traces: int = 5) -> str:
    """HTML for one run: its top-level calls (traces), newest first, at most max_traces of them."""
    rows = spans[spans["run_name"].str.lower() == run_name.lower()]
    unreadable = rows[rows["kind"] == UNREADABLE_KIND]
    rows = rows[rows["kind"] != UNREADABLE_KIND]
    notice = _unreadable_notice(unreadable)
    if rows.empty:
        return f"{notice}<p>No spans for run <b>{html.escape(run_name)}</b>.</p>"
    groups = [(g["start_time"].min(), g) for _, g in rows.groupby("trace_id", sort=False, dropna=False)]
    traces = (sorted((t for t in groups if pd.notna(t[0])), key=lambda t: t[0], reverse=True)
              + [t for t in groups if pd.isna(t[0])])
    shown = traces[:max_traces]
    parts = ['<div class="trace-view" style="font-family:monospace;font-size:12px;text-align:left">',
             f"<div><b>{html.escape(run_name)}</b>: {len(traces)} top-level call{'s' * (len(traces) != 1)}, "
             f"{len(rows)} spans, newest first</div>", notice]
    for _, group in shown:
        llm = group[group["kind"].isin(_LLM_KINDS)].sort_values("start_time", kind="stable")
        numbers = {span_id: index for index, span_id in enumerate(llm["span_id"], 1)}
        parts.append(_trace_block(group, numbers))
    if len(traces) > len(shown):
        parts.append(f"<div>{len(traces) - len(shown)} older call(s) not shown (max_traces={max_traces}).</div>")
    parts.append("</div>")
    return "\n".join(parts)


def show_trace(spans: pd.DataFrame, run_name: str, max_traces: int = 5):
    """The run's top-level calls as waterfalls with each LLM call's prompt and response, for a notebook."""
    from IPython.display import HTML

    return HTML(trace_html(spans, run_name, max_traces))
