"""The runner behind `make run-notebooks` and `make sweep`: what it plans to run, with which parameters."""

from __future__ import annotations

import re
import time

import pytest

from helpers.notebook_runner import ROOT, main, plan, sweep_run_name


def args(*argv):
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--llm", default="auto")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--experiment", default="exp")
    parser.add_argument("--sweep", nargs="+", type=float)
    parser.add_argument("--only", nargs="+")
    parser.add_argument("--local-dir", default="/tmp/local")
    parser.add_argument("--bucket")
    return parser.parse_args(argv)


def test_a_bucket_reaches_every_notebook_only_when_given():
    assert all(p.get("bucket") == "my-traces" for _, p in plan(args("--bucket", "my-traces")))
    assert all("bucket" not in p for _, p in plan(args()))


def test_sweep_run_names_are_valid_sagemaker_names():
    names = [sweep_run_name(t) for t in (0.0, 0.1, 0.5, 1.0, 1.25)]
    assert names == ["sweep-temp-0", "sweep-temp-0-1", "sweep-temp-0-5", "sweep-temp-1", "sweep-temp-1-25"]
    assert all(re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,119}", n) for n in names)


def test_plans_pass_parameters_through():
    jobs = plan(args("--llm", "openai", "--backend", "aws"))
    assert [n for n, _ in jobs] == ["01_single_llm", "02_sequential_chain", "03_agent_with_tools", "04_compare_runs",
                                     "05_evaluate_variants"]
    assert jobs[0][1] == {"experiment_name": "exp", "backend": "aws", "local_dir": "/tmp/local", "llm_provider": "openai"}
    assert "llm_provider" not in jobs[3][1]
    sweep = plan(args("--sweep", "0.2", "0.9"))
    assert [(n, p["temperature"], p["run_name"]) for n, p in sweep] == [
        ("01_single_llm", 0.2, "sweep-temp-0-2"), ("01_single_llm", 0.9, "sweep-temp-0-9")]
    assert [n for n, _ in plan(args("--only", "03"))] == ["03_agent_with_tools"]


def test_bad_choices_are_refused():
    with pytest.raises(SystemExit):
        main(["--llm", "gpt"])


def test_a_bad_name_or_notebook_is_refused_before_any_kernel_starts(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("NOTEBOOK_HINTS", "make")
    started = time.monotonic()
    assert main(["--experiment", "my_experiment", "--output-dir", str(tmp_path)]) == 2
    assert main(["--only", "07", "--output-dir", str(tmp_path)]) == 2
    assert time.monotonic() - started < 5  # no kernel
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("error: EXPERIMENT=my_experiment is not a valid SageMaker name")
    assert err[1].startswith("error: ONLY=07: no notebook starts with that")
    assert list(tmp_path.iterdir()) == []


def test_the_model_reaches_the_scenarios_only():
    parsed = args("--llm", "bedrock")
    parsed.model = "amazon.nova-micro-v1:0"
    jobs = plan(parsed)
    assert [p.get("model_name") for _, p in jobs] == ["amazon.nova-micro-v1:0"] * 3 + [None, "amazon.nova-micro-v1:0"]


def test_the_notebooks_find_the_repository_store_from_any_working_directory(tmp_path, monkeypatch):
    from helpers.experiments import notebook_spool_dir, notebook_store

    monkeypatch.delenv("SAGEMAKER_LOCAL_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert notebook_store(None) == ROOT / ".sagemaker-local"
    assert notebook_store("here") == tmp_path / "here"
    monkeypatch.delenv("SAGEMAKER_TRACE_SPOOL_DIR", raising=False)
    assert notebook_spool_dir() == ROOT / ".trace-spool"


@pytest.mark.notebooks
def test_a_failed_notebook_is_written_next_to_the_last_good_one(tmp_path, capfd, monkeypatch):
    """capfd: the kernel writes to the inherited file descriptors, not to this process's sys.stderr."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    build = tmp_path / "build"
    (build / "html").mkdir(parents=True)
    good = build / "01_single_llm.ipynb"
    good.write_text("the last good copy")
    (build / "html" / "01_single_llm.html").write_text("its HTML")
    code = main(["--only", "01", "--llm", "openai", "--output-dir", str(build), "--local-dir", str(tmp_path / "store")])
    assert code == 1
    assert good.read_text() == "the last good copy" and (build / "html" / "01_single_llm.html").read_text() == "its HTML"
    failed = (build / "01_single_llm.failed.ipynb").read_text()
    assert "OPENAI_API_KEY is not set" in failed and "KeyboardInterrupt" not in failed
    assert "OPENAI_API_KEY is not set" in (build / "html" / "01_single_llm.failed.html").read_text()
    assert not list(build.glob("*.running.ipynb"))
    err = capfd.readouterr().err
    assert "01_single_llm FAILED: ProviderError: OPENAI_API_KEY is not set" in err and "KeyboardInterrupt" not in err
