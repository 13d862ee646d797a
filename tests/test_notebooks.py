"""Executes every notebook with papermill against the local stand-in, then checks what was recorded."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers.experiments import ExperimentAnalytics, open_session

pytestmark = pytest.mark.notebooks

ROOT = Path(__file__).resolve().parent.parent
EXPERIMENT = "notebook-test-exp"


@pytest.fixture(scope="module")
def notebooks() -> dict[str, Path]:
    return {p.stem.split("_", 1)[0]: p for p in sorted((ROOT / "notebooks").glob("*.ipynb"))}


# What a newcomer has: no AWS variables, an empty HOME, no keys. AWS_EC2_METADATA_DISABLED is not set either:
# "auto" must decide on its own that there is no metadata endpoint to ask.
_NEWCOMER_DROPS = ("AWS_EC2_METADATA_DISABLED", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID",
                   "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                   "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_REGION", "AWS_DEFAULT_REGION", "SAGEMAKER_BACKEND",
                   "SAGEMAKER_LOCAL_DIR", "OPENAI_API_KEY", "SERPAPI_API_KEY")


@pytest.fixture(scope="module")
def executed(notebooks, tmp_path_factory):
    """`make run-notebooks`' code path once for the module (the runner, real kernels, backend and LLM "auto"),
    with every process's connections and name lookups audited; returns the executed copies and the audit."""
    import subprocess
    import sys

    from helpers.aws_environment import on_ec2

    out = tmp_path_factory.mktemp("executed")
    local_dir, audit, home = out / "sagemaker-local", out / "network.log", out / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in _NEWCOMER_DROPS}
    env.update(HOME=str(home), AWS_CONFIG_FILE=str(home / ".aws" / "config"),
               AWS_SHARED_CREDENTIALS_FILE=str(home / ".aws" / "credentials"), NETWORK_AUDIT_LOG=str(audit),
               PYTHONPATH=os.pathsep.join([str(ROOT / "tests" / "network_audit"), env.get("PYTHONPATH", "")]))
    if on_ec2():  # there the metadata endpoint is a real credential source, which auto rightly asks
        env["AWS_EC2_METADATA_DISABLED"] = "true"
    ran = subprocess.run([sys.executable, "-m", "helpers.notebook_runner", "--experiment", EXPERIMENT,
                          "--local-dir", str(local_dir), "--output-dir", str(out / "build"), "--no-html"],
                         cwd=out, env=env, capture_output=True, text=True, timeout=900)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    results = {key: out / "build" / notebooks[key].name for key in ("01", "02", "03", "04")}
    return results, open_session("local", local_dir=local_dir), audit.read_text().splitlines()


def test_the_default_mode_makes_no_connection_outside_the_machine(executed):
    from helpers.aws_environment import on_ec2

    if on_ec2():
        pytest.skip("on EC2 auto asks the metadata endpoint, as it should; the audit needs a machine off EC2")
    *_, audit = executed
    started = [line for line in audit if line.startswith("started")]
    from helpers.notebook_runner import SCENARIOS

    assert sum("ipykernel" in line for line in started) == len(SCENARIOS), started  # the hook ran in every kernel
    assert [line for line in audit if not line.startswith("started")] == []


def trace(session, run_name):
    tc = session.sagemaker_client.describe_trial_component(TrialComponentName=f"{EXPERIMENT}-{run_name}")
    assert tc["Status"]["PrimaryStatus"] == "Completed"
    assert list(tc["OutputArtifacts"]) == ["langchain-trace"]
    from helpers.analysis.traces import read_run_spans  # the trace is a prefix of segments

    return read_run_spans(session, f"{EXPERIMENT}-{run_name}")


def outputs_text(path: Path) -> str:
    import nbformat

    book = nbformat.read(path, as_version=4)
    return "\n".join(
        str(o.get("text") or o.get("data", {}).get("text/plain") or o.get("data", {}).get("text/html") or "")
        for c in book.cells if c.cell_type == "code" for o in c.get("outputs", [])
    )


def test_scenario_1_records_the_seed_prompt_and_the_answer(executed):
    results, session, _ = executed
    spans = trace(session, "run-scenario-1")
    llm = [s for s in spans if s["kind"] == "llm"]
    assert len(llm) == 1 and llm[0]["input_text"] == "tell me a joke about fish"
    assert llm[0]["output_text"].startswith("[offline model]")
    assert llm[0]["output_text"] in outputs_text(results["01"])


def test_scenario_2_chains_two_llm_calls(executed):
    _, session, _ = executed
    spans = trace(session, "run-scenario-2")
    llm = [s for s in spans if s["kind"] == "llm"]
    assert len(llm) == 2
    assert "Title: documentary about good video games that push the boundary of game design" in llm[0]["input_text"]
    assert f"Play Synopsis: {llm[0]['output_text']}" in llm[1]["input_text"]
    root = next(s for s in spans if s["parent_id"] is None)
    assert root["output_text"] == llm[1]["output_text"]


def test_scenario_3_agent_calls_both_tools_and_answers(executed):
    results, session, _ = executed
    spans = trace(session, "run-scenario-3")
    tools = [s for s in spans if s["kind"] == "tool"]
    assert [t["name"] for t in tools] == ["web_search", "calculator"]
    assert "offline search snapshot" in tools[0]["output_text"] and tools[1]["output_text"] == "1293.16"
    final = [s for s in spans if s["kind"] == "chat_model"][-1]["output_text"]
    assert "1293.16" in final and final in outputs_text(results["03"])


def test_parameters_and_metrics_are_in_the_experiment(executed):
    _, session, _ = executed
    frame = ExperimentAnalytics(experiment_name=EXPERIMENT, sagemaker_session=session).dataframe()
    rows = {r["DisplayName"].removeprefix(f"{EXPERIMENT}-"): r for _, r in frame.iterrows()}
    assert set(rows) == {"run-scenario-1", "run-scenario-2", "run-scenario-3"}
    for name, calls in (("run-scenario-1", 1), ("run-scenario-2", 2), ("run-scenario-3", 3)):
        assert rows[name]["temperature"] == 0.1 and rows[name]["model_name"] == "offline-deterministic"
        assert rows[name]["llm_calls - Last"] == calls
    assert rows["run-scenario-3"]["tool_calls - Last"] == 2


def test_compare_notebook_shows_every_run(executed):
    results, *_ = executed
    text = outputs_text(results["04"])
    for name in ("run-scenario-1", "run-scenario-2", "run-scenario-3"):
        assert name in text
    assert "trace_status" in text and "Figure" in text


def test_a_rejected_key_fails_the_run_with_one_clear_message(notebooks, tmp_path, monkeypatch):
    """The OpenAI client really runs, against a loopback server that answers 401."""
    import http.server
    import threading

    import papermill

    class Reject(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = b'{"error": {"message": "Incorrect API key provided", "type": "invalid_request_error", "code": "invalid_api_key"}}'
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Reject)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    secret = "sk-test-" + "x" * 40
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{server.server_address[1]}/v1")
    local_dir = tmp_path / "sagemaker-local"
    target = tmp_path / "01.ipynb"
    try:
        with pytest.raises(papermill.PapermillExecutionError) as raised:
            papermill.execute_notebook(str(notebooks["01"]), str(target), cwd=str(notebooks["01"].parent),
                                       parameters={"experiment_name": EXPERIMENT, "backend": "local",
                                                   "local_dir": str(local_dir), "llm_provider": "openai",
                                                   "run_name": "bad-key"},
                                       kernel_name="python3", progress_bar=False)
    finally:
        server.shutdown()
    assert raised.value.ename == "ProviderError" and "OPENAI_API_KEY was rejected" in raised.value.evalue
    assert secret not in target.read_text()
    session = open_session("local", local_dir=local_dir)
    tc = session.sagemaker_client.describe_trial_component(TrialComponentName=f"{EXPERIMENT}-bad-key")
    assert tc["Status"]["PrimaryStatus"] == "Failed"


def test_a_missing_key_fails_the_run_with_one_clear_message(notebooks, tmp_path, monkeypatch):
    """The agent notebook asked for OpenAI with no OPENAI_API_KEY: one line, and the run is there, Failed."""
    import papermill

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    local_dir = tmp_path / "sagemaker-local"
    with pytest.raises(papermill.PapermillExecutionError) as raised:
        papermill.execute_notebook(str(notebooks["03"]), str(tmp_path / "03.ipynb"), cwd=str(notebooks["03"].parent),
                                   parameters={"experiment_name": EXPERIMENT, "backend": "local",
                                               "local_dir": str(local_dir), "llm_provider": "openai",
                                               "run_name": "no-key"},
                                   kernel_name="python3", progress_bar=False)
    assert raised.value.ename == "ProviderError" and "OPENAI_API_KEY is not set" in raised.value.evalue
    session = open_session("local", local_dir=local_dir)
    tc = session.sagemaker_client.describe_trial_component(TrialComponentName=f"{EXPERIMENT}-no-key")
    assert tc["Status"]["PrimaryStatus"] == "Failed" and "OPENAI_API_KEY" in tc["Status"]["Message"]


def test_log_lines_are_plain_output_not_error_boxes(executed):
    import nbformat

    results, *_ = executed
    for path in results.values():
        outputs = [o for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code" for o in c.outputs]
        stderr = [o.get("text", "") for o in outputs if o.get("name") == "stderr"]
        assert not any("INFO" in text for text in stderr), (path.name, stderr)
        assert any("SageMaker backend: local stand-in" in o.get("text", "") for o in outputs if o.get("name") == "stdout")
