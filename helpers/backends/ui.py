"""`make ui`: the MLflow UI on 127.0.0.1 over the local MLflow store (.mlflow/), no outside connections.

python -m helpers.backends.ui [--port 5000] [--store DIR]; ui_server() starts it for tests and returns its URL.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from . import mlflow_env
from .mlflow_setup import artifact_root, local_uri


def command(port: int, store: str | os.PathLike | None = None) -> list[str]:
    uri = local_uri(store)
    return [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri,
            "--default-artifact-root", artifact_root(uri), "--host", "127.0.0.1", "--port", str(port),
            "--workers", "1"]


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env.update({**mlflow_env.OFFLINE_SETTINGS, "DO_NOT_TRACK": "true"})
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the MLflow UI exited with code {process.returncode}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"{url}/health", timeout=2) as reply:
                if reply.status == 200:
                    return
        time.sleep(0.5)
    raise TimeoutError(f"the MLflow UI did not answer at {url} within {timeout_s:.0f} s")


@contextlib.contextmanager
def ui_server(store: str | os.PathLike | None = None, port: int | None = None, log_path: Path | None = None):
    """The MLflow UI over `store` on a free loopback port, stopped afterwards: yields its URL."""
    port = port or free_port()
    out = open(log_path, "wb") if log_path else subprocess.DEVNULL
    process = subprocess.Popen(command(port, store), env=environment(), stdout=out, stderr=subprocess.STDOUT,
                               start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, process)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 15)
        process.wait(timeout=30)
        if log_path:
            out.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--store", help="the local MLflow folder (default: MLFLOW_LOCAL_DIR or the repository's .mlflow/)")
    args = parser.parse_args(argv)
    print(f"MLflow UI over {local_uri(args.store)}: http://127.0.0.1:{args.port}  (Ctrl-C stops it)", flush=True)
    try:
        return subprocess.call(command(args.port, args.store), env=environment())
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
