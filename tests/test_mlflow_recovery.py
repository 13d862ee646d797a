"""Crash recovery for the MLflow backend: a process killed while MLflow was unreachable leaves its spool;
upload_pending_mlflow_spools sends its segments, traces, parameters and metrics to the MLflow run."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import mlflow
import pytest

from helpers.backends.mlflow_recovery import upload_pending_mlflow_spools

CHILD = textwrap.dedent("""
    import os, sys
    import mlflow
    from helpers.backends import open_tracker, start_run
    from helpers.backends.mlflow_store import MlflowStore
    from helpers.offline_model import OfflineChatModel
    from helpers.tracking import SageMakerCallbackHandler

    def down(self, *args, **kwargs):
        raise ConnectionError("MLflow is down")

    tracker = open_tracker("mlflow", "local")
    with start_run("exp-crash", "run-crash", tracker) as run:
        MlflowStore.put_segment = down
        handler = SageMakerCallbackHandler(run, spool_dir=sys.argv[1])
        for topic in ("fish", "cats", "owls"):
            OfflineChatModel(model_name="offline-chat").invoke(f"a joke about {topic}", config={"callbacks": [handler]})
        handler.spool.flush()
        print(run.info.run_id, flush=True)
        os._exit(0)  # killed: no close hook, no exit hook
""")


@pytest.mark.drills
def test_a_killed_process_leaves_a_spool_that_lands_in_its_mlflow_run(tmp_path, monkeypatch, spool_dir, no_network):
    monkeypatch.setenv("MLFLOW_LOCAL_DIR", str(tmp_path / "mlflow"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    env = {**os.environ, "SAGEMAKER_TRACKING_STRICT": "0"}
    env.pop("PYTEST_CURRENT_TEST", None)
    child = subprocess.run([sys.executable, "-c", CHILD, str(spool_dir)], env=env, capture_output=True, text=True,
                           timeout=600, cwd=str(tmp_path))
    run_id = child.stdout.strip().splitlines()[-1]
    uri = f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri)
    assert "llm_calls" not in client.get_run(run_id).data.metrics

    assert len(upload_pending_mlflow_spools(spool_dir=spool_dir)) == 1
    stored = client.get_run(run_id)
    assert stored.data.metrics["llm_calls"] == 3 and stored.data.params["model_name"] == "offline-chat"
    assert stored.data.tags["langchain.trace"] == f"runs:/{run_id}/langchain-trace/"
    traces = client.search_traces(locations=[stored.info.experiment_id])
    assert sorted(str(t.data.spans[0].inputs) for t in traces) == sorted(
        str(t.data.spans[0].inputs) for t in traces) and len(traces) == 3
    assert not any(spool_dir.iterdir())  # confirmed and removed
    assert upload_pending_mlflow_spools(spool_dir=spool_dir) == []
