"""One place to get a SageMaker Session (AWS or the local stand-in) and the SDK's experiment classes.

The classes come from SageMaker SDK v3 (``sagemaker.core``) and fall back to SDK v2.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from .aws_environment import (
    aws_boto_session,
    botocore_session,
    find_credentials,
    isolated_boto_session,
)
from .deferred_imports import defer_rfc3987_syntax
from .errors import ParameterError, setting
from .local_sagemaker import LocalSageMaker

defer_rfc3987_syntax()  # before the SDK imports jsonschema: 1.7 s less for every kernel

try:  # SageMaker Python SDK v3
    from sagemaker.core.analytics import ExperimentAnalytics
    from sagemaker.core.experiments.run import Run, list_runs, load_run
    from sagemaker.core.helper.session_helper import Session

    SDK_MAJOR = 3
except ImportError:  # SageMaker Python SDK v2
    from sagemaker.analytics import ExperimentAnalytics
    from sagemaker.experiments.run import Run, list_runs, load_run
    from sagemaker.session import Session

    SDK_MAJOR = 2


__all__ = [
    "ExperimentAnalytics", "Run", "Session", "list_runs", "load_run",
    "open_session", "local_backend", "check_names", "notebook_spool_dir", "notebook_store", "SDK_MAJOR",
]

log = logging.getLogger(__name__)

MODES = ("auto", "local", "aws")
_TELEMETRY_OFF = {"SchemaVersion": "1.0", "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}}}


def open_session(mode: str = "auto", local_dir: str | os.PathLike | None = None, region: str | None = None,
                 bucket: str | None = None) -> Session:
    """A real SageMaker Session: on AWS ("aws"), on the offline stand-in ("local"), or whichever fits ("auto").

    "auto" takes SAGEMAKER_BACKEND if set, else "aws" when botocore finds credentials, else "local"; deciding
    makes no network request unless there is a sign of EC2 (see helpers.aws_environment.on_ec2).
    The local stand-in keeps its state under local_dir (default: SAGEMAKER_LOCAL_DIR or ./.sagemaker-local).
    bucket: the S3 bucket for artifacts such as the traces (default: the SDK's sagemaker-<region>-<account>).
    """
    requested = mode
    mode = str(mode).strip().lower()
    if mode not in MODES:
        raise ValueError(f"{setting('backend', requested)} is not a backend: use one of {', '.join(MODES)}.")
    reason, found = f"mode={mode!r}", None
    if mode == "auto":
        override = os.environ.get("SAGEMAKER_BACKEND", "").strip().lower()
        if override and override != "auto":
            if override not in MODES:
                raise ValueError(
                    f"SAGEMAKER_BACKEND must be one of {', '.join(MODES)}; got {override!r}."
                )
            mode, reason = override, "SAGEMAKER_BACKEND is set"
        elif find_credentials(found := botocore_session()) is not None:
            mode, reason = "aws", "found AWS credentials"
        else:
            mode, reason = "local", "no AWS credentials"
    if mode == "aws":
        boto_session = aws_boto_session(region, found)
        log.info("SageMaker backend: aws (%s), region %s.", reason, boto_session.region_name)
        return Session(boto_session=boto_session, default_bucket=bucket)
    directory = Path(local_dir or os.environ.get("SAGEMAKER_LOCAL_DIR") or ".sagemaker-local").resolve()
    region = region or "us-east-1"
    backend = LocalSageMaker(directory, region)
    boto_session = isolated_boto_session(region)  # AWS_PROFILE and ~/.aws play no part offline
    backend.attach(boto_session)
    # telemetry would be an HTTPS call to AWS: opted out through the SDK's own config
    session = Session(boto_session=boto_session, sagemaker_config=_TELEMETRY_OFF, default_bucket=bucket)
    session._local_sagemaker = backend
    log.info("SageMaker backend: local stand-in in %s (%s).", directory, reason)
    return session


def check_names(experiment_name: str, run_name: str | None = None) -> None:
    """Raise a one-line ParameterError for a name SageMaker would refuse, before anything is sent."""
    import re

    from .local_sagemaker.model_rules import (
        service_model,  # botocore's model, without reading AWS config
    )

    shape = service_model("sagemaker").shape_for("ExperimentEntityName")
    pattern = re.compile(shape.metadata["pattern"])
    # Run joins them as <experiment>-<run> into one trial component name of at most 120 characters
    # (the SDK's MAX_NAME_LEN_IN_BACKEND), and allows each at most half of it less the hyphen.
    longest = 120 // 2 - 1
    for parameter, name in (("experiment_name", experiment_name), ("run_name", run_name)):
        if name is None:
            continue
        if not isinstance(name, str) or not pattern.fullmatch(name) or len(name) > longest:
            raise ParameterError(
                f"{setting(parameter, name)} is not a valid SageMaker name: use letters, digits and hyphens "
                f"only (no '_', '.' or spaces), starting with a letter or digit, at most {longest} characters.")


def _checkout() -> Path | None:
    """The repository this package runs from (an editable install), or None when installed as a package."""
    checkout = Path(__file__).resolve().parent.parent
    return checkout if (checkout / "notebooks").is_dir() and (checkout / "pyproject.toml").is_file() else None


def notebook_store(local_dir: str | os.PathLike | None = None) -> Path:
    """The stand-in's folder for the notebooks: local_dir, else SAGEMAKER_LOCAL_DIR, else the repository's
    .sagemaker-local (found from this package, so it does not depend on the working directory)."""
    if local_dir or os.environ.get("SAGEMAKER_LOCAL_DIR"):
        return Path(local_dir or os.environ["SAGEMAKER_LOCAL_DIR"]).resolve()
    checkout = _checkout()
    return checkout / ".sagemaker-local" if checkout else Path(".sagemaker-local").resolve()


def notebook_spool_dir() -> Path:
    """Where the notebooks' handlers spool: SAGEMAKER_TRACE_SPOOL_DIR, else the repository's .trace-spool
    (where make run-notebooks and upload_pending_spools look), whatever the working directory."""
    if os.environ.get("SAGEMAKER_TRACE_SPOOL_DIR"):
        return Path(os.environ["SAGEMAKER_TRACE_SPOOL_DIR"]).resolve()
    checkout = _checkout()
    return checkout / ".trace-spool" if checkout else Path(".trace-spool").resolve()


def local_backend(session) -> LocalSageMaker | None:
    """The stand-in behind a local session, or None for a session on AWS."""
    return getattr(session, "_local_sagemaker", None)
