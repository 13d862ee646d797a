"""The runner behind `make run-notebooks` and `make sweep`: what it plans to run, with which parameters."""

from __future__ import annotations

import re

import pytest

from helpers.notebook_runner import main, plan, sweep_run_name


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
