"""A sweep as a SageMaker Pipeline: one NotebookJobStep per grid point, each running notebook 05 for that point.

SageMaker runs it (no scheduler of ours); offline the definition builds against the stand-in, which stores it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .grid import Sweep

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "05_evaluate_variants.ipynb"
INIT_SCRIPT = ROOT / "sweeps" / "notebook_job_init.sh"
DEPENDENCIES = [ROOT / "helpers", ROOT / "pyproject.toml", ROOT / "requirements.txt"]
STAGING = ROOT / "build" / "pipeline-staging"


def staged_dependencies() -> list[str]:
    """The package and its pins, copied without caches: what each step uploads for its init script."""
    import shutil

    if STAGING.exists():
        shutil.rmtree(STAGING)
    STAGING.mkdir(parents=True)
    for path in DEPENDENCIES:
        if path.is_dir():
            shutil.copytree(path, STAGING / path.name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, STAGING / path.name)
    return [str(STAGING / p.name) for p in DEPENDENCIES]


def notebook_parameters(sweep: Sweep, parameters: dict, run_name: str) -> dict[str, str]:
    """Notebook 05's parameters for one grid point (NotebookJobStep passes them as strings)."""
    values = {"experiment_name": sweep.experiment_name, "eval_experiment": sweep.experiment_name,
              "run_name": run_name, "backend": "aws",
              "scenario": parameters.get("scenario", "jokes"), "prompts": parameters.get("prompt", "plain"),
              "temperatures": parameters.get("temperature", 0.1), "llm_provider": parameters.get("llm_provider", "auto"),
              "max_concurrency": sweep.max_concurrency, "show_comparison": False}
    if parameters.get("model_name"):
        values["model_name"] = parameters["model_name"]
    if sweep.limit:
        values["limit"] = sweep.limit
    return {k: json.dumps(v) if isinstance(v, bool) else str(v) for k, v in values.items()}


def check_role(role) -> str:
    """The role, if it is an IAM role ARN; else a ValueError naming it and SAGEMAKER_ROLE_ARN."""
    from ..local_sagemaker.pipelines_api import role_arn_problem

    problem = role_arn_problem(role, "role")
    if problem:
        raise ValueError(problem)
    return role


def to_pipeline(sweep: Sweep, *, role: str, image_uri: str, sagemaker_session, instance_type: str = "ml.m5.large",
                kernel_name: str = "python3", s3_root_uri: str | None = None, pipeline_name: str | None = None,
                notebook: str | Path = NOTEBOOK, max_runtime_in_seconds: int = 2 * 60 * 60):
    """The Pipeline: one independent NotebookJobStep per point, all tracking into sweep.experiment_name."""
    check_role(role)
    # importing sagemaker.mlops builds a default boto3 client (no request), which needs a region
    os.environ.setdefault("AWS_DEFAULT_REGION", sagemaker_session.boto_region_name)
    from sagemaker.mlops.workflow.notebook_job_step import NotebookJobStep
    from sagemaker.mlops.workflow.pipeline import Pipeline

    dependencies = staged_dependencies()
    steps = []
    for point in sweep.points():
        steps.append(NotebookJobStep(
            name=point.run_name, display_name=point.run_name[:82],
            description=f"evaluate {json.dumps(point.parameters, default=str)}"[:3072],
            notebook_job_name=f"eval-{point.run_name}"[:63].rstrip("-"),
            input_notebook=str(notebook), image_uri=image_uri, kernel_name=kernel_name, role=role,
            s3_root_uri=s3_root_uri, instance_type=instance_type, max_runtime_in_seconds=max_runtime_in_seconds,
            parameters=notebook_parameters(sweep, point.parameters, point.run_name),
            initialization_script=str(INIT_SCRIPT), additional_dependencies=dependencies,
            environment_variables={"SAGEMAKER_BACKEND": "aws"},
        ))
    return Pipeline(name=pipeline_name or f"{sweep.experiment_name}-sweep", steps=steps,
                    sagemaker_session=sagemaker_session)


def studio_hint(pipeline) -> str:
    region = pipeline.sagemaker_session.boto_region_name
    return (f"Studio: Pipelines > {pipeline.name} (console: https://{region}.console.aws.amazon.com/sagemaker/home"
            f"?region={region}#/pipelines)")


def upsert(pipeline, role: str) -> str:
    """Create or update the pipeline; prints and returns its ARN.

    On the stand-in, which has no IAM for the SDK's role check, the role's format is checked here and
    again by the stand-in (as SageMaker does), and the definition is stored with the same
    CreatePipeline/UpdatePipeline calls the SDK makes.
    """
    from ..experiments import local_backend

    check_role(role)

    if local_backend(pipeline.sagemaker_session) is None:
        arn = pipeline.upsert(role_arn=role)["PipelineArn"]
    else:
        client = pipeline.sagemaker_session.sagemaker_client
        request = {"PipelineName": pipeline.name, "PipelineDefinition": pipeline.definition(), "RoleArn": role}
        try:
            arn = client.create_pipeline(**request)["PipelineArn"]
        except client.exceptions.ClientError as error:
            if "already exists" not in str(error):
                raise
            arn = client.update_pipeline(**request)["PipelineArn"]
    print(f"Pipeline {pipeline.name}: {arn}\n{studio_hint(pipeline)}")
    return arn


def start(pipeline):
    """Start an execution; prints its ARN (offline, the stand-in refuses: use `make sweep`)."""
    execution = pipeline.start()
    print(f"Execution: {execution.arn}\n{studio_hint(pipeline)}")
    return execution
