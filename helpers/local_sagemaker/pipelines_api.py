"""SageMaker Pipelines in the stand-in: definitions are stored and described; nothing is ever executed.

StartPipelineExecution answers UnsupportedOperation: offline, `make sweep` runs the same grid here.
"""

from __future__ import annotations

import json
import re
import time

from .errors import LocalServiceError, ResourceNotFound, ValidationException

ROLE_ARN = re.compile(r"arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+")  # SageMaker's RoleArn pattern


def role_arn_problem(role, where: str = "RoleArn") -> str | None:
    """Why `role` is not an IAM role ARN SageMaker accepts, naming what to do; None when it is one."""
    if isinstance(role, str) and 20 <= len(role) <= 2048 and ROLE_ARN.fullmatch(role):
        return None
    return (f"{where} {role!r} is not an IAM role ARN: SageMaker needs arn:aws:iam::<12-digit account>:role/<name>. "
            "Set SAGEMAKER_ROLE_ARN (or pass role=) to the ARN of your SageMaker execution role.")


def _check_roles(p) -> None:
    """The pipeline's role and every step's role, as SageMaker checks them when it stores a definition."""
    problem = role_arn_problem(p.get("RoleArn"))
    if problem:
        raise ValidationException(problem)
    try:
        steps = json.loads(p.get("PipelineDefinition") or "{}").get("Steps") or []
    except (ValueError, AttributeError):
        raise ValidationException("PipelineDefinition is not a JSON object with a Steps list.") from None
    for step in steps:
        role = (step.get("Arguments") or {}).get("RoleArn") if isinstance(step, dict) else None
        if role is not None and not isinstance(role, dict):  # a dict is a pipeline parameter, set at start
            problem = role_arn_problem(role, f"Step {step.get('Name')!r}'s RoleArn")
            if problem:
                raise ValidationException(problem)


class PipelinesAPI:
    """A mixin of SageMakerAPI (it uses self.store and self._arn_of): one method per operation."""

    def _pipeline_arn(self, name: str) -> str:
        return self._arn_of("pipeline", name)

    def _definition(self, p) -> str:
        if p.get("PipelineDefinition"):
            return p["PipelineDefinition"]
        location = p.get("PipelineDefinitionS3Location")
        if location:
            return f"s3://{location['Bucket']}/{location['ObjectKey']}"
        raise ValidationException("Either PipelineDefinition or PipelineDefinitionS3Location must be provided.")

    def CreatePipeline(self, p):
        _check_roles(p)
        name, now = p["PipelineName"], time.time()
        doc = {"PipelineName": name, "PipelineArn": self._pipeline_arn(name),
               "PipelineDisplayName": p.get("PipelineDisplayName", name), "PipelineDefinition": self._definition(p),
               "PipelineDescription": p.get("PipelineDescription"), "RoleArn": p["RoleArn"],
               "PipelineStatus": "Active", "CreationTime": now, "LastModifiedTime": now, "PipelineVersionId": 1,
               "Tags": p.get("Tags", [])}
        if not self.store.insert("pipeline", name, {k: v for k, v in doc.items() if v is not None}):
            raise ValidationException(f"Pipeline names must be unique within an AWS account and region. "
                                      f"Pipeline with name ({name}) already exists.")
        return {"PipelineArn": doc["PipelineArn"]}

    def UpdatePipeline(self, p):
        name = p["PipelineName"]
        if p.get("RoleArn") or p.get("PipelineDefinition"):
            _check_roles({"RoleArn": p.get("RoleArn") or "arn:aws:iam::000000000000:role/unchanged",
                          "PipelineDefinition": p.get("PipelineDefinition")})

        def change(doc):
            if p.get("PipelineDefinition") or p.get("PipelineDefinitionS3Location"):
                doc["PipelineDefinition"] = self._definition(p)
            for key in ("PipelineDisplayName", "PipelineDescription", "RoleArn"):
                if p.get(key):
                    doc[key] = p[key]
            doc["LastModifiedTime"] = time.time()
            doc["PipelineVersionId"] = doc.get("PipelineVersionId", 1) + 1

        if self.store.update("pipeline", name, change) is None:
            raise ResourceNotFound(f"Pipeline '{self._pipeline_arn(name)}' does not exist.")
        return {"PipelineArn": self._pipeline_arn(name)}

    def DescribePipeline(self, p):
        name = p["PipelineName"].rsplit("/", 1)[-1]
        doc = self.store.get("pipeline", name)
        if doc is None:
            raise ResourceNotFound(f"Pipeline '{self._pipeline_arn(name)}' does not exist.")
        return doc

    def StartPipelineExecution(self, p):
        raise LocalServiceError(
            "UnsupportedOperation",
            f"The local SageMaker stand-in stores pipeline {p.get('PipelineName')!r} but never runs it. "
            "Offline, run the same grid with `make sweep` (parallel worker processes here); "
            "on AWS, use `make sweep-aws`.", 501)
