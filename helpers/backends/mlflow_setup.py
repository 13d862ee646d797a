"""Where MLflow tracking goes: a local SQLite store in .mlflow/ (offline default) or a SageMaker AI MLflow ARN.

Checks the ARN's form, the sagemaker-mlflow plugin, the client/server version pairing, and the experiment,
each failure as one clear line (TrackingSetupError).
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from . import mlflow_env

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DIR = ROOT / ".mlflow"
ARN = re.compile(r"^arn:aws[a-z-]*:sagemaker:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
                 r"(?P<kind>mlflow-app|mlflow-tracking-server)/(?P<name>[A-Za-z0-9-]+)$")
FIND_ONE = ("Find one in SageMaker Studio (Applications > MLflow: the app's ARN), or with "
            "`aws sagemaker list-mlflow-apps` (apps) / `aws sagemaker list-mlflow-tracking-servers`.")


_UNREACHABLE = ("Max retries exceeded", "Connection refused", "NewConnectionError", "Name or service not known",
                "timed out")


class TrackingSetupError(RuntimeError):
    """A tracking URI, ARN, plugin, server version or experiment that does not work (one line)."""


def local_uri(directory: str | os.PathLike | None = None) -> str:
    folder = Path(directory or os.environ.get("MLFLOW_LOCAL_DIR") or DEFAULT_DIR).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'mlflow.db'}"


def artifact_root(tracking_uri: str) -> str | None:
    """For a local SQLite store: its artifacts next to the database (not ./mlruns of whatever cwd)."""
    if tracking_uri.startswith("sqlite:///"):
        return str(Path(tracking_uri[len("sqlite:///"):]).parent / "artifacts")
    return None


def resolve_uri(tracking_uri: str | None, mode: str) -> str:
    """The tracking URI: the argument, else MLFLOW_TRACKING_URI, else (local mode) the repository's .mlflow/."""
    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    if mode == "aws":
        raise TrackingSetupError("tracker='mlflow' on AWS needs an MLflow App or tracking-server ARN "
                                 "(tracking_uri= or MLFLOW_TRACKING_URI). " + FIND_ONE)
    return local_uri()


def check_arn(uri: str) -> dict:
    """The parts of an MLflow App / tracking-server ARN; a clear error for any other ARN."""
    match = ARN.match(uri)
    if not match:
        raise TrackingSetupError(f"{uri!r} is not an MLflow App or tracking-server ARN "
                                 "(arn:aws:sagemaker:<region>:<account>:mlflow-app/<id> or "
                                 ":mlflow-tracking-server/<name>). " + FIND_ONE)
    try:
        import sagemaker_mlflow  # noqa: F401, PLC0415
    except ImportError as error:
        raise TrackingSetupError("An ARN tracking URI needs the sagemaker-mlflow plugin: "
                                 "`pip install sagemaker-mlflow` (SageMaker SDK v3 installs it).") from error
    return match.groupdict()


def check_versions(client_version: str, server_version: str | None) -> None:
    """AWS pairs each MLflow server with clients of the same minor version (3.0.x with 3.0.x ...)."""
    if not server_version:
        return
    minor = lambda v: tuple(v.split(".")[:2])  # noqa: E731
    if minor(client_version) != minor(server_version):
        raise TrackingSetupError(
            f"MLflow client {client_version} does not match the server's MLflow {server_version}: "
            f"install mlflow=={'.'.join(minor(server_version))}.* in this kernel, or use an MLflow App "
            f"whose version matches {client_version} (AWS documents one client minor version per server).")


def sagemaker_client(region: str):
    """The SageMaker API client for an ARN's region (one place, so tests can stub it)."""
    import boto3  # noqa: PLC0415

    return boto3.client("sagemaker", region_name=region)


def server_version(uri: str, kind: str | None = None) -> str | None:
    """The MLflow version of a SageMaker MLflow resource (DescribeMlflowApp / DescribeMlflowTrackingServer)."""
    parts = check_arn(uri)
    client = sagemaker_client(parts["region"])
    try:
        if parts["kind"] == "mlflow-app":
            described = client.describe_mlflow_app(Arn=uri)
        else:
            described = client.describe_mlflow_tracking_server(TrackingServerName=parts["name"])
    except Exception as error:  # permissions or an SDK without the call: pairing stays unchecked
        log.info("Could not read the MLflow server's version (%s: %s).", type(error).__name__, error)
        return None
    return described.get("MlflowVersion")


def connect(tracking_uri: str | None = None, mode: str = "local", experiment_name: str | None = None,
            check_server_version: bool = True) -> tuple[str, str | None]:
    """Point MLflow at the store and make sure the experiment exists: (tracking_uri, experiment_id)."""
    mlflow_env.apply(offline=mode != "aws")
    import mlflow  # noqa: PLC0415

    uri = resolve_uri(tracking_uri, mode)
    if uri.startswith("arn:"):
        check_arn(uri)
        if check_server_version and not os.environ.get("SAGEMAKER_MLFLOW_CUSTOM_ENDPOINT"):
            check_versions(mlflow.__version__, server_version(uri))
    mlflow.set_tracking_uri(uri)
    if experiment_name is None:
        return uri, None
    return uri, ensure_experiment(uri, experiment_name)


def ensure_experiment(uri: str, experiment_name: str) -> str:
    import mlflow  # noqa: PLC0415
    from mlflow.exceptions import MlflowException  # noqa: PLC0415

    from .mlflow_signing import signed_as  # noqa: PLC0415

    client = signed_as(uri, mlflow.MlflowClient(uri))
    try:
        found = client.get_experiment_by_name(experiment_name)
        if found is not None:
            if found.lifecycle_stage == "deleted":
                client.restore_experiment(found.experiment_id)
            return found.experiment_id
        return client.create_experiment(experiment_name, artifact_location=artifact_root(uri))
    except MlflowException as error:
        if any(text in str(error) for text in _UNREACHABLE):
            raise TrackingSetupError(f"MLflow at {_where(uri)} cannot be reached ({str(error).splitlines()[0][:200]}). "
                                     "Check the tracking URI and the network.") from error
        shown = experiment_name if len(experiment_name) <= 80 else experiment_name[:80] + "..."
        reason = str(error).splitlines()[0].replace(experiment_name, shown)[:300]
        raise TrackingSetupError(f"MLflow refused the experiment {shown!r} at {_where(uri)}: {reason}. "
                                 "Choose another experiment name; nothing was recorded.") from error
    except Exception as error:
        raise TrackingSetupError(f"MLflow at {_where(uri)} cannot be reached ({type(error).__name__}: "
                                 f"{str(error).splitlines()[0] if str(error) else ''}). Check the tracking URI "
                                 "and the network, or use the local store (tracking_uri=None offline).") from error


def _where(uri: str) -> str:
    from .mlflow_store import _safe_uri  # noqa: PLC0415

    return _safe_uri(uri)


UI_LINK_FIRST_USE_S = 300  # a presigned MLflow UI URL must be opened within this; it works once
UI_SESSION_S = 12 * 3600  # the UI session it opens


def ui_link(uri: str, experiment_id: str | None, run_id: str | None = None) -> str | None:
    """Where to see a run in the MLflow UI (text that holds no credential: it is logged and saved in notebooks).

    For an ARN: the Studio path to the managed MLflow UI and the run's page, and how to get a sign-in link
    (presigned_ui_url, which is a credential and is therefore never logged). Else the http server's run page,
    or `make ui`'s address.
    """
    page = run_page(experiment_id, run_id)
    if uri.startswith("arn:"):
        parts = ARN.match(uri)
        if parts is None:
            return None
        return (f"SageMaker Studio > Applications > MLflow > {parts['name']} > Open MLflow, then {page or '/'}; "
                f"or open helpers.backends.mlflow_setup.presigned_ui_url({uri!r}, {experiment_id!r}, {run_id!r}) "
                f"in a browser (a single-use sign-in link, valid 5 minutes; it is a credential, so it is not printed)")
    if uri.startswith("http"):
        return uri.rstrip("/") + (f"/{page}" if page else "")
    return "http://127.0.0.1:5000 (run `make ui`)" + (f", then /{page}" if page else "")


def run_page(experiment_id: str | None, run_id: str | None = None) -> str:
    """The MLflow UI's fragment for an experiment or one of its runs ('' for neither)."""
    if experiment_id and run_id:
        return f"#/experiments/{experiment_id}/runs/{run_id}"
    return f"#/experiments/{experiment_id}" if experiment_id else ""


def presigned_ui_url(uri: str, experiment_id: str | None = None, run_id: str | None = None) -> str:
    """A presigned URL that opens the managed MLflow UI of an MLflow App or tracking-server ARN (at the run's page).

    The URL is a credential (single-use, to be opened within 5 minutes): open it, don't print or log it.
    """
    parts = check_arn(uri)
    client = sagemaker_client(parts["region"])
    times = {"ExpiresInSeconds": UI_LINK_FIRST_USE_S, "SessionExpirationDurationInSeconds": UI_SESSION_S}
    if parts["kind"] == "mlflow-app":
        url = client.create_presigned_mlflow_app_url(Arn=uri, **times)["AuthorizedUrl"]
    else:
        url = client.create_presigned_mlflow_tracking_server_url(TrackingServerName=parts["name"], **times)["AuthorizedUrl"]
    return url + run_page(experiment_id, run_id)
