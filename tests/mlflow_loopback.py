"""A real MLflow tracking server (MLflow's own FastAPI app) in a child process on a loopback port, recording
the method, path and headers of every request: the stand-in for a SageMaker AI MLflow endpoint.

A child process, because MLflow's server sets the process's MLFLOW_TRACKING_URI to its own store.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


class Requests:
    """The requests the server recorded so far, read from its log file."""

    def __init__(self, path: Path):
        self.path = path

    def all(self) -> list[tuple[str, str, dict]]:
        if not self.path.exists():
            return []
        return [tuple(json.loads(line)) for line in self.path.read_text().splitlines() if line.strip()]


@contextlib.contextmanager
def mlflow_server(store_dir: Path):
    """Yields (url, Requests)."""
    store_dir.mkdir(parents=True, exist_ok=True)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = store_dir / "requests.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_TRACKING", "SAGEMAKER_MLFLOW"))}
    env.update({"_MLFLOW_SERVER_FILE_STORE": f"sqlite:///{store_dir / 'server.db'}",
                "_MLFLOW_SERVER_ARTIFACT_ROOT": str(store_dir / "artifacts"),
                "_MLFLOW_SERVER_SERVE_ARTIFACTS": "false", "MLFLOW_DISABLE_TELEMETRY": "true",
                "MLFLOW_MODEL_CATALOG_URI": "", "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    process = subprocess.Popen([sys.executable, __file__, str(port), str(log)], env=env,
                               stdout=open(store_dir / "server.log", "wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the loopback MLflow server exited: {(store_dir / 'server.log').read_text()[-2000:]}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{url}/health", timeout=2):
                    break
            if time.monotonic() > deadline:
                raise TimeoutError("the loopback MLflow server did not start within 300 s")
            time.sleep(0.3)
        yield url, Requests(log)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _serve(port: int, log_path: str) -> None:
    import uvicorn
    from mlflow.server.fastapi_app import create_fastapi_app

    app = create_fastapi_app()
    log = open(log_path, "a", buffering=1)

    async def recording(scope, receive, send):
        if scope["type"] == "http":
            headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
            log.write(json.dumps([scope["method"], scope["path"], headers]) + "\n")
        await app(scope, receive, send)

    uvicorn.run(recording, host="127.0.0.1", port=port, log_level="warning", lifespan="off")


class OtlpReceiver:
    """A loopback OTLP/HTTP traces endpoint: decodes each ExportTraceServiceRequest with opentelemetry-proto.

    `status` is what it answers (set 400 to refuse); `spans` the received spans, `bodies` the raw requests."""

    def __init__(self):
        import http.server
        import threading

        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        self.status, self.spans, self.bodies, self.resources = 200, [], [], []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if receiver.status == 200 and self.path == "/v1/traces":
                    request = ExportTraceServiceRequest.FromString(body)
                    receiver.bodies.append(body)
                    for resource_spans in request.resource_spans:
                        receiver.resources.append(resource_spans.resource)
                        for scope_spans in resource_spans.scope_spans:
                            receiver.spans.extend(scope_spans.spans)
                self.send_response(receiver.status if self.path == "/v1/traces" else 404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    @staticmethod
    def attributes(span) -> dict:
        """A received span's attributes as plain Python values."""
        out = {}
        for kv in span.attributes:
            which = kv.value.WhichOneof("value")
            value = getattr(kv.value, which)
            if which == "array_value":
                value = [getattr(v, v.WhichOneof("value")) for v in value.values]
            out[kv.key] = value
        return out


if __name__ == "__main__":
    _serve(int(sys.argv[1]), sys.argv[2])
