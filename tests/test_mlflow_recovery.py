"""Crash recovery for the MLflow backend: a process killed while MLflow was unreachable leaves its spool;
upload_pending_mlflow_spools sends its segments, traces, parameters and metrics to the MLflow run."""

from __future__ import annotations

import logging
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


MIXED_CHILD = textwrap.dedent("""
    import os, sys
    from langchain_core.runnables import RunnableLambda
    from helpers.backends import open_tracker, start_run
    from helpers.backends.mlflow_store import MlflowStore
    from helpers.experiments import Run, local_backend, open_session
    from helpers.tracking import SageMakerCallbackHandler

    def down(self, *args, **kwargs):
        raise ConnectionError("MLflow is down")

    session = open_session("local", local_dir=sys.argv[2])
    local_backend(session).add_fault("s3.PutObject", times=None)
    experiments_run = Run(experiment_name="mixed", run_name="sm", sagemaker_session=session).__enter__()
    handler = SageMakerCallbackHandler(experiments_run, spool_dir=sys.argv[1])
    RunnableLambda(lambda x: x).invoke("to-experiments", config={"callbacks": [handler]})
    MlflowStore.put_segment = down
    with start_run("mixed", "ml", open_tracker("mlflow", "local")) as run:
        handler = SageMakerCallbackHandler(run, spool_dir=sys.argv[1])
        RunnableLambda(lambda x: x).invoke("to-mlflow", config={"callbacks": [handler]})
        handler.spool.flush()
        print(run.info.run_id, flush=True)
        os._exit(0)  # killed: neither run closes
""")


@pytest.mark.drills
def test_one_recovery_routes_a_mixed_spool_folder_by_each_spools_store(tmp_path, monkeypatch, spool_dir, no_network,
                                                                     caplog):
    from helpers.analysis.traces import read_run_spans
    from helpers.backends import open_tracker
    from helpers.experiments import open_session
    from helpers.tracking import upload_pending_spools

    monkeypatch.setenv("MLFLOW_LOCAL_DIR", str(tmp_path / "mlflow"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    env = {**os.environ, "SAGEMAKER_TRACKING_STRICT": "0"}
    env.pop("PYTEST_CURRENT_TEST", None)
    child = subprocess.run([sys.executable, "-c", MIXED_CHILD, str(spool_dir), str(tmp_path / "sm")], env=env,
                           capture_output=True, text=True, timeout=600, cwd=str(tmp_path))
    run_id = child.stdout.strip().splitlines()[-1]
    assert len(list(spool_dir.iterdir())) == 2, child.stderr[-3000:]
    session, tracking = open_session("local", local_dir=tmp_path / "sm"), open_tracker("mlflow", "local")
    other_mlflow = f"sqlite:///{tmp_path / 'other.db'}"

    with caplog.at_level(logging.WARNING):
        assert upload_pending_spools(other_mlflow, spool_dir=spool_dir) == []  # another MLflow store: refused
        assert "other.db" in caplog.text and str(tmp_path / "mlflow" / "mlflow.db") in caplog.text
        caplog.clear()
        assert upload_pending_spools(open_session("local", local_dir=tmp_path / "elsewhere"),
                                     spool_dir=spool_dir) == []  # both refused, each naming both stores
        assert caplog.text.count("left in place") == 2 and "backend=mlflow" in caplog.text
        assert str(tmp_path / "sm") in caplog.text and str(tmp_path / "elsewhere") in caplog.text
    assert len(list(spool_dir.iterdir())) == 2

    mlflow_sent = upload_pending_spools(tracking, spool_dir=spool_dir)  # only the MLflow run's spool
    assert len(mlflow_sent) == 1 and len(list(spool_dir.iterdir())) == 1
    client = mlflow.MlflowClient(tracking.tracking_uri)
    (trace,) = client.search_traces(locations=[client.get_run(run_id).info.experiment_id])
    assert trace.data.spans[0].inputs == {"input": "to-mlflow"}

    assert len(upload_pending_spools(session, spool_dir=spool_dir)) == 1  # the Experiments run's, with a session
    assert [s["inputs"]["input"] for s in read_run_spans(session, "mixed-sm")] == ["to-experiments"]
    assert not any(spool_dir.iterdir())
