"""Sweeps: grids and run names checked up front, parallel local runs with Failed points and resume, the pipeline."""

from __future__ import annotations

import json

import pytest

from helpers.sweeps import GridError, Sweep, expand, load_sweep, run_sweep

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/notebook-job:1"


def test_points_are_named_from_their_parameters():
    points = expand({"prompt": ["plain", "detailed"], "temperature": [0.0, 0.5]}, {"scenario": "jokes"})
    assert [p.run_name for p in points] == ["plain-t0", "plain-t0-5", "detailed-t0", "detailed-t0-5"]
    assert points[1].parameters == {"scenario": "jokes", "prompt": "plain", "temperature": 0.5}


@pytest.mark.parametrize(("grid", "message"), [
    ({"prompt": ["my_prompt"]}, "Grid value 'my_prompt' of 'prompt' cannot be part of a SageMaker run name"),
    ({"prompt": ["a-b", "a--b"], "x": [1]}, None),
    ({"temperature": []}, "needs a non-empty list"),
    ({"model-name": ["m" * 130]}, "SageMaker refuses"),
])
def test_bad_grid_values_are_named_before_anything_runs(grid, message):
    if message is None:
        assert len(expand(grid)) == 2
        return
    with pytest.raises(GridError, match=message):
        expand(grid)


def test_grid_files_in_yaml_and_toml_and_command_line_values(tmp_path):
    (tmp_path / "g.toml").write_text('experiment = "exp-a"\n[grid]\ntemperature = [0.0, 1.0]\n[fixed]\nscenario = "plays"\n')
    (tmp_path / "g.yaml").write_text("experiment: exp-b\ngrid:\n  prompt: [plain]\n")
    toml = load_sweep(tmp_path / "g.toml", ["prompt=plain,detailed"])
    assert toml.experiment_name == "exp-a" and toml.fixed == {"scenario": "plays"}
    assert [p.run_name for p in toml.points()] == ["t0-plain", "t0-detailed", "t1-plain", "t1-detailed"]
    assert load_sweep(tmp_path / "g.yaml").grid == {"prompt": ["plain"]}
    (tmp_path / "bad.yaml").write_text("grid: [unclosed")
    with pytest.raises(GridError, match="does not parse"):
        load_sweep(tmp_path / "bad.yaml")
    with pytest.raises(GridError, match="name=v1,v2"):
        load_sweep(None, ["temperature"])


def test_local_sweep_runs_in_parallel_records_failures_and_resumes(local_session, local_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("SAGEMAKER_EVAL_SPOOL_DIR", str(tmp_path / "eval"))
    monkeypatch.setenv("SAGEMAKER_TRACE_SPOOL_DIR", str(tmp_path / "trace"))
    # openai without OPENAI_API_KEY fails inside the point: it must become a Failed run, the others go on
    sweep = Sweep("sweep-test", {"llm_provider": ["offline", "openai"], "temperature": [0.0, 1.0]},
                  {"scenario": "jokes"}, limit=4)
    summary = run_sweep(sweep, workers=2, backend="local", local_dir=str(local_dir), progress=False)
    assert sorted(summary.completed) == ["offline-t0", "offline-t1"]
    assert sorted(summary.failed) == ["openai-t0", "openai-t1"]
    assert "OPENAI_API_KEY" in summary.failed["openai-t0"] and "FAILED openai-t0" in str(summary)
    client = local_session.sagemaker_client
    status = {n: client.describe_trial_component(TrialComponentName=f"sweep-test-{n}")["Status"]["PrimaryStatus"]
              for n in ("offline-t0", "offline-t1", "openai-t0", "openai-t1")}
    assert status == {"offline-t0": "Completed", "offline-t1": "Completed", "openai-t0": "Failed", "openai-t1": "Failed"}
    again = run_sweep(sweep, workers=2, backend="local", local_dir=str(local_dir), progress=False)
    assert sorted(again.skipped) == ["offline-t0", "offline-t1"] and sorted(again.failed) == ["openai-t0", "openai-t1"]


def test_an_unknown_prompt_variant_stops_the_sweep_before_it_starts(local_dir):
    sweep = Sweep("sweep-test", {"prompt": ["plain", "fancy"]}, {"scenario": "jokes"})
    with pytest.raises(ValueError, match="prompt='fancy' is not a prompt variant of jokes"):
        run_sweep(sweep, workers=1, backend="local", local_dir=str(local_dir), progress=False)


def test_the_pipeline_has_one_independent_notebook_step_per_point(local_session):
    from helpers.sweeps.pipeline import to_pipeline, upsert

    sweep = Sweep("pipe-exp", {"prompt": ["plain", "detailed"], "temperature": [0.0, 1.0]},
                  {"scenario": "jokes", "llm_provider": "openai"}, limit=10)
    pipeline = to_pipeline(sweep, role=ROLE, image_uri=IMAGE, sagemaker_session=local_session,
                           instance_type="ml.t3.medium")
    steps = json.loads(pipeline.definition())["Steps"]
    assert [s["Name"] for s in steps] == ["plain-t0", "plain-t1", "detailed-t0", "detailed-t1"]
    for step in steps:
        args = step["Arguments"]
        assert step["Type"] == "Training" and "DependsOn" not in step
        assert args["AlgorithmSpecification"]["TrainingImage"] == IMAGE
        assert args["ResourceConfig"]["InstanceType"] == "ml.t3.medium" and args["RoleArn"] == ROLE
        assert args["Environment"]["SM_INPUT_NOTEBOOK_NAME"] == "05_evaluate_variants.ipynb"
        prompt, temperature = step["Name"].split("-t")
        assert args["HyperParameters"] == {
            "experiment_name": "pipe-exp", "backend": "aws", "scenario": "jokes", "prompts": prompt,
            "temperatures": f"{float(temperature)}", "llm_provider": "openai", "max_concurrency": "8",
            "show_comparison": "false", "limit": "10", "eval_experiment": "pipe-exp", "run_name": step["Name"]}
        # the notebook, the init script and the package were uploaded to the stand-in's S3
        uri = args["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"]
        bucket, prefix = uri[5:].split("/", 1)
        keys = {o["Key"][len(prefix) + 1:] for o in local_session.boto_session.client("s3").list_objects_v2(
            Bucket=bucket, Prefix=prefix)["Contents"]}
        assert {"05_evaluate_variants.ipynb", "notebook_job_init.sh", "requirements.txt",
                "helpers/evaluation/evaluator.py"} <= keys
        assert not any("__pycache__" in k for k in keys)
    arn = upsert(pipeline, ROLE)
    described = local_session.sagemaker_client.describe_pipeline(PipelineName=pipeline.name)
    assert described["PipelineArn"] == arn and len(json.loads(described["PipelineDefinition"])["Steps"]) == 4
    assert upsert(pipeline, ROLE) == arn  # the second upsert updates
    with pytest.raises(Exception, match="make sweep"):
        local_session.sagemaker_client.start_pipeline_execution(PipelineName=pipeline.name)


def test_the_command_line_names_a_bad_grid_and_exits_2(capsys, tmp_path):
    from helpers.sweeps.__main__ import main

    assert main(["--set", "prompt=my prompt", "--local-dir", str(tmp_path)]) == 2
    assert "Grid value 'my prompt' of 'prompt'" in capsys.readouterr().err
    assert main(["--aws", "--set", "temperature=0"]) == 2
    assert "--role" in capsys.readouterr().err


@pytest.mark.parametrize("role", ["SageMakerRole", "arn:aws:iam::12345:role/SageMakerRole",
                                  "arn:aws:iam::123456789012:user/someone"])
def test_a_role_that_is_not_an_iam_role_arn_is_refused_naming_the_variable(local_session, role):
    from helpers.sweeps import Sweep, to_pipeline
    from helpers.sweeps.pipeline import upsert

    sweep = Sweep("pipe-role", {"temperature": [0.0]}, {"scenario": "jokes", "llm_provider": "offline"}, limit=2)
    with pytest.raises(ValueError, match="SAGEMAKER_ROLE_ARN") as refused:
        to_pipeline(sweep, role=role, image_uri=IMAGE, sagemaker_session=local_session)
    assert repr(role) in str(refused.value)
    pipeline = to_pipeline(sweep, role=ROLE, image_uri=IMAGE, sagemaker_session=local_session)
    with pytest.raises(ValueError, match="SAGEMAKER_ROLE_ARN"):
        upsert(pipeline, role)
    # the stand-in checks as SageMaker does: the pipeline's role, and each step's role in the definition
    client = local_session.sagemaker_client
    from botocore.exceptions import BotoCoreError, ClientError

    with pytest.raises((ClientError, BotoCoreError), match="RoleArn|roleArn"):  # botocore refuses a short one
        client.create_pipeline(PipelineName="pipe-role", PipelineDefinition=pipeline.definition(), RoleArn=role)
    definition = json.loads(pipeline.definition())
    definition["Steps"][0]["Arguments"]["RoleArn"] = role
    with pytest.raises(ClientError, match="SAGEMAKER_ROLE_ARN"):
        client.create_pipeline(PipelineName="pipe-role", PipelineDefinition=json.dumps(definition), RoleArn=ROLE)
    with pytest.raises(ClientError, match="does not exist"):
        client.describe_pipeline(PipelineName="pipe-role")  # nothing was stored
