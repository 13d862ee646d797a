"""Faults outside S3 never reach the chain: an unwritable or full spool folder, an unprintable exception,
lone surrogates read back into pandas. The warnings say what was kept where."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import textwrap
import uuid

import pytest
from conftest import run_python
from langchain_core.language_models.fake import FakeListLLM
from langchain_core.runnables import RunnableLambda

from helpers.analysis import load_traces
from helpers.analysis.traces import read_run_spans
from helpers.experiments import Run, open_session
from helpers.tracking import SageMakerCallbackHandler, upload_pending_spools


@pytest.fixture
def full_disk(tmp_path):
    """A 64 KB tmpfs (root only): the spool fills it after a few hundred spans."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / f"tiny-{uuid.uuid4().hex[:6]}"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_keeps_every_span_in_memory_and_says_so(local_session, full_disk, monkeypatch, caplog):
    monkeypatch.setenv("SAGEMAKER_TRACKING_STRICT", "0")
    llm = FakeListLLM(responses=["ok"])
    chain = RunnableLambda(lambda x: llm.invoke(str(x)) and x)
    with caplog.at_level(logging.WARNING), Run(experiment_name="faults", run_name="full",
                                               sagemaker_session=local_session) as run:
        handler = SageMakerCallbackHandler(run, spool_dir=full_disk)
        for i in range(1_500):  # 3,000 spans, far past 64 KB
            assert chain.invoke(i, config={"callbacks": [handler]}) == i
    assert "No space left on device" in caplog.text and "kept in memory" in caplog.text
    on_disk = re.search(r"the first (\d+) bytes of spans are in (\S+langchain-trace\.jsonl)", caplog.text)
    assert on_disk and 0 < int(on_disk.group(1)) < 64 * 1024  # says exactly what the disk holds
    assert "a crash before their upload loses them" in caplog.text  # and what it does not
    assert "safe" not in caplog.text  # no claim that the disk holds what it refused
    spans = read_run_spans(local_session, "faults-full")
    assert len(spans) == 3_000 and sorted(s["inputs"]["input"] for s in spans if s["parent_id"] is None) == list(range(1_500))


def test_an_unwritable_spool_folder_does_not_stop_the_chain(local_session, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("SAGEMAKER_TRACKING_STRICT", "0")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the spool folder should be")
    with caplog.at_level(logging.WARNING), Run(experiment_name="faults", run_name="ro",
                                               sagemaker_session=local_session) as run:
        handler = SageMakerCallbackHandler(run, spool_dir=blocker / "spool")
        assert RunnableLambda(lambda x: x + 1).invoke(1, config={"callbacks": [handler]}) == 2
    assert "cannot be written" in caplog.text and "kept in memory" in caplog.text
    assert [s["outputs"]["output"] for s in read_run_spans(local_session, "faults-ro")] == [2]


class Unprintable(Exception):
    def __str__(self):
        raise RuntimeError("no str")

    def __repr__(self):
        raise RuntimeError("no repr")


def test_an_exception_that_cannot_be_printed_keeps_its_span_and_its_parents(local_session, spool_dir):
    def fails(x):
        raise Unprintable()

    inner = RunnableLambda(fails, name="inner")
    outer = RunnableLambda(lambda x: inner.invoke(x), name="outer")
    with Run(experiment_name="faults", run_name="unprintable", sagemaker_session=local_session) as run:
        handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
        with pytest.raises(Unprintable):
            outer.invoke(1, config={"callbacks": [handler]})
    spans = {s["name"]: s for s in read_run_spans(local_session, "faults-unprintable")}
    assert set(spans) == {"inner", "outer"}
    assert all(s["status"] == "error" and s["error"]["type"] == "Unprintable" for s in spans.values())
    assert "str() raised" in spans["inner"]["error"]["message"]


def test_lone_surrogates_load_into_pandas(local_session, spool_dir):
    with Run(experiment_name="faults", run_name="surrogate", sagemaker_session=local_session) as run:
        handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
        RunnableLambda(lambda x: x).invoke("bad \ud800 decode", config={"callbacks": [handler]})
    frame = load_traces("faults", run_names=["surrogate"], sagemaker_session=local_session)
    assert frame["input_text"].tolist() == ["bad \\ud800 decode"]
    frame["input_text"].str.encode("utf-8")  # pandas can encode every cell


def test_a_store_that_cannot_be_resolved_keeps_the_spans_for_recovery(local_dir, spool_dir):
    """No default bucket (S3 unreachable) when the handler is made: one warning, the chain runs, and the
    spans wait in the spool until upload_pending_spools sends them to the run."""
    code = textwrap.dedent(f"""
        import botocore.exceptions
        from langchain_core.runnables import RunnableLambda
        from helpers.experiments import open_session, Run
        from helpers.tracking import SageMakerCallbackHandler
        s = open_session("local", local_dir={str(local_dir)!r})
        with Run(experiment_name="faults", run_name="nobucket", sagemaker_session=s) as run:
            def unreachable():
                raise botocore.exceptions.EndpointConnectionError(endpoint_url="https://s3.us-west-2.amazonaws.com")
            s.default_bucket = unreachable
            handler = SageMakerCallbackHandler(run, spool_dir={str(spool_dir)!r})
            for i in range(3):
                assert RunnableLambda(lambda x: x * 10, name="times_ten").invoke(i, config={{"callbacks": [handler]}}) == i * 10
        print("chain ran")
    """)
    proc = run_python(code, env={"SAGEMAKER_TRACKING_STRICT": "0", "PYTEST_CURRENT_TEST": ""})
    assert proc.returncode == 0 and "chain ran" in proc.stdout, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if "SageMaker tracking" in line]
    assert len(warnings) == 1, warnings
    assert "could not be resolved" in warnings[0] and "EndpointConnectionError" in warnings[0]
    assert str(spool_dir) in warnings[0] and "upload_pending_spools" in warnings[0]
    session = open_session("local", local_dir=local_dir)
    assert read_run_spans(session, "faults-nobucket") == []  # nothing reached the run ...
    assert len(upload_pending_spools(session, spool_dir=spool_dir)) == 1  # ... until recovery
    spans = read_run_spans(session, "faults-nobucket")
    assert sorted(s["outputs"]["output"] for s in spans) == [0, 10, 20]


@pytest.fixture
def read_only_cwd(tmp_path, monkeypatch):
    """The working directory is a read-only tmpfs (root only), so the default ./.trace-spool cannot be made."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / f"ro-{uuid.uuid4().hex[:6]}"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(mount)], check=True)
    monkeypatch.chdir(mount)
    monkeypatch.delenv("SAGEMAKER_TRACE_SPOOL_DIR", raising=False)
    yield mount
    monkeypatch.chdir(tmp_path)
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_read_only_working_directory_does_not_stop_the_chain(local_session, read_only_cwd, monkeypatch, caplog):
    """The issue's case: the default spool folder (./.trace-spool) cannot be created; the chain and Run go on."""
    monkeypatch.setenv("SAGEMAKER_TRACKING_STRICT", "0")
    llm = FakeListLLM(responses=["ok"])
    with caplog.at_level(logging.WARNING), Run(experiment_name="faults", run_name="ro-cwd",
                                               sagemaker_session=local_session) as run:
        handler = SageMakerCallbackHandler(run)  # no spool_dir: the working directory's
        for i in range(3):
            assert RunnableLambda(lambda x: llm.invoke(str(x)) and x).invoke(i, config={"callbacks": [handler]}) == i
    assert "Read-only file system" in caplog.text and "kept in memory" in caplog.text
    assert str(read_only_cwd / ".trace-spool") in caplog.text  # the warning names the folder that failed
    assert not any(read_only_cwd.iterdir())
    spans = read_run_spans(local_session, "faults-ro-cwd")
    assert sorted(s["inputs"]["input"] for s in spans if s["parent_id"] is None) == [0, 1, 2] and len(spans) == 6


@pytest.mark.parametrize("bad", ["profile", "config"])
def test_a_bad_aws_profile_or_config_does_not_stop_tracking_in_local_mode(bad, tmp_path, monkeypatch, spool_dir):
    """open_session("local") with a missing AWS_PROFILE or a malformed AWS_CONFIG_FILE: a run is tracked and read."""
    from helpers.analysis import load_runs
    from helpers.experiments import open_session

    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "aws-config"
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    if bad == "profile":
        monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    else:
        config.write_text("[default\nregion = us-east-1\n")  # no closing bracket: botocore cannot parse it
    session = open_session("local", local_dir=tmp_path / "state")
    llm = FakeListLLM(responses=["ok"])
    with Run(experiment_name="bad-aws", run_name="r", sagemaker_session=session) as run:
        handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
        assert RunnableLambda(lambda x: llm.invoke(x) and x).invoke("q", config={"callbacks": [handler]}) == "q"
    spans, status = load_traces("bad-aws", sagemaker_session=session, with_status=True)
    assert status["trace_status"].tolist() == ["ok"] and sorted(spans["kind"]) == ["chain", "llm"]
    assert load_runs("bad-aws", sagemaker_session=session)["llm_calls"].tolist() == [1]


def test_lone_surrogates_anywhere_in_a_span_load_every_run(local_session, spool_dir):
    """A lone surrogate in a name, key, output or metadata of one run: every run of the experiment still loads."""
    bad = "x \udc80 y"
    with Run(experiment_name="surrogates", run_name="bad", sagemaker_session=local_session) as run:
        handler = SageMakerCallbackHandler(run, spool_dir=spool_dir)
        RunnableLambda(lambda x: {bad: bad}, name=f"step {bad}").invoke(
            {"q": bad}, config={"callbacks": [handler], "metadata": {"note": bad}, "tags": [bad]})
    with Run(experiment_name="surrogates", run_name="good", sagemaker_session=local_session) as run:
        RunnableLambda(lambda x: x).invoke("fine", config={"callbacks": [SageMakerCallbackHandler(run, spool_dir=spool_dir)]})
    frame, status = load_traces("surrogates", sagemaker_session=local_session, with_status=True)
    assert sorted(status["trace_status"]) == ["ok", "ok"] and sorted(frame["run_name"]) == ["bad", "good"]
    row = frame[frame["run_name"] == "bad"].iloc[0]
    assert row["name"] == "step x \\udc80 y" and "x \\udc80 y" in row["output_text"]
    for column in ("name", "input_text", "output_text"):
        frame[column].astype("string").str.encode("utf-8")  # every cell encodes
    frame.to_parquet(spool_dir.parent / "spans.parquet")  # and the frame writes (parquet needs UTF-8)
    from helpers.analysis import trace_html

    trace_html(frame, "bad").encode("utf-8")
