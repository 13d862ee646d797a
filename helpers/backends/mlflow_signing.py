"""An MLflow store addressed by an ARN signs as that ARN, whatever the process's global tracking URI.

The sagemaker-mlflow plugin builds each request's SigV4 auth and ARN header from `mlflow.get_tracking_uri()`,
not from the store the request goes to: a store used after the global URI changed (another test, another
notebook cell, the exit hook) signed with the wrong ARN, or failed with an IndexError on a non-ARN URI.
signed_as(store_uri, obj) makes every call on obj run with the plugin reading store_uri (per thread).
"""

from __future__ import annotations

import contextlib
import functools
import threading

_scope = threading.local()
_installed = False
_install_lock = threading.Lock()


def plugin_tracking_uri() -> str:
    """What the plugin reads as "the tracking URI": the store of the call in progress on this thread, else
    MLflow's global one."""
    import mlflow  # noqa: PLC0415

    return getattr(_scope, "uri", None) or mlflow.get_tracking_uri()


def install() -> None:
    """Point the plugin's auth and header providers at plugin_tracking_uri (once; no plugin, nothing to do)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        try:
            from sagemaker_mlflow import auth_provider, mlflow_sagemaker_request_header_provider  # noqa: PLC0415
        except ImportError:
            return
        for module in (auth_provider, mlflow_sagemaker_request_header_provider):
            module.get_tracking_uri = plugin_tracking_uri
        _installed = True


@contextlib.contextmanager
def signing_as(uri: str):
    install()
    before = getattr(_scope, "uri", None)
    _scope.uri = uri
    try:
        yield
    finally:
        _scope.uri = before


class SignedAs:
    """obj (an MlflowClient, a TracingClient) whose every method call signs as `uri`."""

    def __init__(self, obj, uri: str):
        self._obj, self._uri = obj, uri

    def __getattr__(self, name: str):
        value = getattr(self._obj, name)
        if not callable(value):
            return value

        @functools.wraps(value)
        def call(*args, **kwargs):
            with signing_as(self._uri):
                return value(*args, **kwargs)

        return call


def signed_as(uri: str, obj):
    """obj itself for a non-ARN URI (nothing to sign), else SignedAs(obj, uri)."""
    return SignedAs(obj, uri) if str(uri).startswith("arn:") else obj
