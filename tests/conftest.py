"""Shared fixtures: a local SageMaker session per test, on its own stand-in folder."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

try:
    from hypothesis import settings
except ImportError:  # the SDK v2 environment (make test-sdk-v2) runs no property tests
    settings = None

# CI must be reproducible: the same examples on every run; locally, hypothesis explores freely.
if settings is not None:
    settings.register_profile("ci", derandomize=True, deadline=None, database=None)
    if os.environ.get("CI"):
        settings.load_profile("ci")

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("SAGEMAKER_TRACKING_STRICT", "1")
# "auto" asks the EC2 metadata address only where there is a sign of EC2 (helpers.aws_environment.on_ec2);
# on an EC2 CI host that would find the host's role, so tests opt out. test_notebooks runs its kernels
# without this variable and audits that they make no outside connection.
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
for name in ("OPENAI_API_KEY", "SERPAPI_API_KEY", "OPENAI_BASE_URL"):
    os.environ.pop(name, None)


@pytest.fixture
def local_dir(tmp_path) -> Path:
    return tmp_path / "sagemaker-local"


@pytest.fixture
def local_session(local_dir):
    """A real SageMaker Session on the stand-in, with its state under this test's tmp_path."""
    from helpers.experiments import open_session

    return open_session("local", local_dir=local_dir)


@pytest.fixture
def local_backend(local_session):
    """The LocalSageMaker behind local_session: request_counts, latency_s, add_fault/clear_faults."""
    from helpers.experiments import local_backend

    return local_backend(local_session)


@pytest.fixture
def spool_dir(tmp_path) -> Path:
    return tmp_path / "spool"


def is_loopback(family, address) -> bool:
    """Unix sockets and 127.0.0.0/8, ::1, localhost stay on this machine."""
    if family == socket.AF_UNIX:
        return True
    host = address[0] if isinstance(address, tuple) else address
    return isinstance(host, str) and (host.startswith("127.") or host in ("localhost", "::1"))


@pytest.fixture
def no_network(monkeypatch):
    """Any connection to a non-loopback address fails; the list holds every attempt."""
    real_connect = socket.socket.connect
    attempts = []

    def guarded(self, address):
        if not is_loopback(self.family, address):
            attempts.append(address)
            raise OSError(f"test blocked a connection to {address}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    monkeypatch.setattr(socket.socket, "connect_ex", lambda self, address: guarded(self, address) or 0)
    return attempts


def run_python(code: str, cwd: Path | None = None, env: dict | None = None):
    """Run code in a fresh interpreter (a new process reads what an earlier one stored)."""
    import subprocess

    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd or ROOT,
                          env={**os.environ, **(env or {})}, timeout=300)
