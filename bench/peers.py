"""Peers in `make bench`, on the same chain in the same run: Langfuse's LangChain handler sending to a loopback
sink, and mlflow.langchain.autolog() into a local SQLite store. Every non-loopback connect is blocked and counted.
"""

from __future__ import annotations

import contextlib
import os
import socket
import statistics
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from . import hot_path
from . import workloads as w


@contextlib.contextmanager
def loopback_only():
    """Any connection to a non-loopback address fails; yields the list of attempts."""
    real, attempts = socket.socket.connect, []

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if self.family != socket.AF_UNIX and not (isinstance(host, str) and (host.startswith("127.") or host in ("localhost", "::1"))):
            attempts.append(str(address))
            raise OSError(f"bench blocked a connection to {address}")
        return real(self, address)

    socket.socket.connect = guarded
    try:
        yield attempts
    finally:
        socket.socket.connect = real


class _Sink(BaseHTTPRequestHandler):
    """Accepts whatever Langfuse sends (OTLP spans, ingestion batches) and answers 200."""

    received = 0

    def do_POST(self):  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).received += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_POST  # noqa: N815

    def log_message(self, *args):
        pass


def langfuse_ratio(invocations: int, rounds: int) -> dict:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        from langfuse import Langfuse
        from langfuse.langchain import CallbackHandler

        client = Langfuse(public_key="pk-lf-bench", secret_key="sk-lf-bench",
                          host=f"http://127.0.0.1:{server.server_port}")
        chain = hot_path.scenario_2()
        untracked, tracked = [], []
        for _ in range(rounds):
            untracked.append(w.timed(lambda: [chain.invoke("t") for _ in range(invocations)]) / invocations)
            handler = CallbackHandler()
            tracked.append(w.timed(lambda handler=handler: ([chain.invoke("t", config={"callbacks": [handler]})
                                                             for _ in range(invocations)], client.flush()))
                           / invocations)
        client.shutdown()
        return {"ratio": statistics.median(tracked) / statistics.median(untracked), "requests_received": _Sink.received}
    finally:
        server.shutdown()


def mlflow_ratio(tmp: Path, invocations: int, rounds: int) -> dict:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{tmp / 'mlflow.db'}")
    mlflow.set_experiment("bench-peers")
    chain = hot_path.scenario_2()
    untracked, tracked = [], []
    flush = getattr(mlflow, "flush_trace_async_logging", lambda: None)
    for _ in range(rounds):
        untracked.append(w.timed(lambda: [chain.invoke("t") for _ in range(invocations)]) / invocations)
        mlflow.langchain.autolog(log_traces=True, silent=True)
        tracked.append(w.timed(lambda: ([chain.invoke("t") for _ in range(invocations)], flush())) / invocations)
        mlflow.langchain.autolog(disable=True)
    traces = len(mlflow.search_traces(return_type="list", max_results=10_000))
    return {"ratio": statistics.median(tracked) / statistics.median(untracked), "traces_stored": traces,
            "calls_tracked": invocations * rounds}


def peers(tmp: Path, invocations: int, rounds: int) -> dict:
    out = {}
    with loopback_only() as attempts:
        for name, measure in (("langfuse", lambda: langfuse_ratio(invocations, rounds)),
                              ("mlflow_autolog", lambda: mlflow_ratio(tmp, invocations, rounds))):
            try:
                out[name] = measure()
            except Exception as error:  # a peer that does not run here is reported, not fatal
                out[name] = {"error": f"{type(error).__name__}: {error}"[:300]}
    out["blocked_connections"] = attempts
    return out


def rows(results: dict) -> list[str]:
    p = results.get("peers")
    if not p:
        return []
    lines = []
    for name, label in (("langfuse", "Langfuse CallbackHandler → loopback sink"),
                        ("mlflow_autolog", "mlflow.langchain.autolog() → local SQLite")):
        row = p.get(name, {})
        value = f"{row['ratio']:.2f}x" if "ratio" in row else row.get("error", "not run")
        lines.append(f"| 6. peer, instant model: {label}, tracked / untracked | {value} | | for scale | |")
    lines.append(f"| 6. peers' blocked non-loopback connections | {len(p['blocked_connections'])} | | 0 | "
                 f"{'yes' if not p['blocked_connections'] else 'no'} |")
    return lines
