"""SageMaker Pipelines in the stand-in: definitions are stored and described; nothing is ever executed.

StartPipelineExecution answers UnsupportedOperation: offline, `make sweep` runs the same grid here.
"""

from __future__ import annotations

import time

from .errors import LocalServiceError, ResourceNotFound, ValidationException


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
