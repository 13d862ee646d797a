"""Choosing the tracker: open_tracker("experiments" | "mlflow", ...) and start_run(...), the same for both.

For "experiments" the tracker is the SageMaker Session (as open_session gives); for "mlflow" an MlflowTracking
that load_runs/load_traces/show_trace accept in its place.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass

log = logging.getLogger(__name__)

TRACKERS = ("experiments", "mlflow")


@dataclass
class MlflowTracking:
    """An MLflow tracking store (local SQLite or a SageMaker AI MLflow ARN) standing in for a Session."""

    tracking_uri: str
    mode: str  # "local" or "aws"

    def client(self):
        import mlflow  # noqa: PLC0415

        from .mlflow_signing import signed_as  # noqa: PLC0415

        return signed_as(self.tracking_uri, mlflow.MlflowClient(self.tracking_uri))


def choose_tracker(tracker: str | None) -> str:
    chosen = str(tracker or os.environ.get("TRACKER") or "experiments").strip().lower()
    if chosen not in TRACKERS:
        raise ValueError(f"tracker must be one of {', '.join(TRACKERS)}; got {tracker!r}.")
    return chosen


def open_tracker(tracker: str | None = "experiments", backend: str = "auto", *, local_dir=None, bucket=None,
                 region=None, tracking_uri: str | None = None, check_server_version: bool = True):
    """The Session ("experiments") or MlflowTracking ("mlflow") the notebooks pass around.

    tracker=None reads $TRACKER (default "experiments"). For "mlflow": tracking_uri (or MLFLOW_TRACKING_URI)
    is an MLflow App / tracking-server ARN on AWS; offline (backend "local", or "auto" without AWS
    credentials) the default is the repository's .mlflow/ SQLite store.
    """
    chosen = choose_tracker(tracker)
    if chosen == "experiments":
        from ..experiments import open_session  # noqa: PLC0415

        return open_session(backend, local_dir=local_dir, region=region, bucket=bucket)
    from .mlflow_setup import connect  # noqa: PLC0415

    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
    mode = "aws" if (uri or "").startswith("arn:") else "local"
    if backend == "aws" and not uri:
        mode = "aws"
    uri, _ = connect(uri, mode=mode, check_server_version=check_server_version)
    log.info("Tracking backend: MLflow at %s.", _display(uri))
    return MlflowTracking(uri, mode)


def _display(uri: str) -> str:
    from .mlflow_store import _safe_uri  # noqa: PLC0415

    return _safe_uri(uri)


def start_run(experiment_name: str, run_name: str, tracker):
    """`with start_run(experiment, run, tracker) as run:` a SageMaker Run or an MLflow run, for the handler."""
    if isinstance(tracker, MlflowTracking):
        return mlflow_run(experiment_name, run_name, tracker)
    from ..experiments import Run  # noqa: PLC0415

    return Run(experiment_name=experiment_name, run_name=run_name, sagemaker_session=tracker)


@contextlib.contextmanager
def mlflow_run(experiment_name: str, run_name: str, tracking: MlflowTracking):
    """An MLflow run named run_name in the experiment (the same run again if one has that name, as in
    Experiments); the handlers' traces are sent before it ends; it ends FAILED if the block raised."""
    import mlflow  # noqa: PLC0415

    from .mlflow_setup import connect, ensure_experiment, ui_link  # noqa: PLC0415

    connect(tracking.tracking_uri, tracking.mode, check_server_version=False)
    experiment_id = ensure_experiment(tracking.tracking_uri, experiment_name)
    client = tracking.client()
    quoted = run_name.replace("'", "\\'")
    earlier = client.search_runs([experiment_id], f"tags.`mlflow.runName` = '{quoted}'", max_results=1)
    if earlier:
        run = MlflowRun(mlflow.start_run(run_id=earlier[0].info.run_id))
    else:
        run = MlflowRun(mlflow.start_run(experiment_id=experiment_id, run_name=run_name))
    status = "FINISHED"
    try:
        with run:
            try:
                yield run
            except BaseException:
                status = "FAILED"
                raise
            finally:
                _send_traces(run)
                mlflow.set_tag("langchain.status", status)
    finally:
        link = ui_link(tracking.tracking_uri, experiment_id, run.info.run_id)
        if link:
            log.info("MLflow run %s (%s): %s", run_name, status.lower(), link)


class MlflowRun:
    """The ActiveRun of mlflow.start_run(), plus the SageMaker Run's log_parameters (the notebooks call it)."""

    def __init__(self, active):
        self._active = active
        self.info, self.data = active.info, active.data

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._active.__exit__(*exc)

    def log_parameters(self, parameters: dict) -> None:
        """New names as MLflow params; a changed value (params are write-once) as a langchain.param.<name> tag."""
        from .mlflow_store import MlflowStore  # noqa: PLC0415

        store = MlflowStore(mlflow_tracking_uri(), self.info.experiment_id, self.info.run_id, "langchain-trace")
        store.put_params(parameters)


def mlflow_tracking_uri() -> str:
    import mlflow  # noqa: PLC0415

    return mlflow.get_tracking_uri()


def _send_traces(run) -> None:
    """Every handler's uploads, before the run ends, then its confirmed spool removed (what the close hook does
    for a SageMaker Run)."""
    from ..tracking.handler import _remove_if_confirmed  # noqa: PLC0415

    for uploader in list((getattr(run, "_langchain_trace_uploaders", None) or {}).values()):
        try:
            uploader.upload_now()
            uploader.retire()
            uploader.spool.close_file()
            _remove_if_confirmed(uploader)  # the run holds all of it: the spool goes, as for a SageMaker Run
        except Exception as error:
            log.warning("MLflow tracking: sending the trace failed (%s: %s); the spans stay in %s.",
                        type(error).__name__, error, uploader.spool.where())
