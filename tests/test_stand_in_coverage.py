"""Every service call the installed SDK's Experiments code makes has a handler in the stand-in.

The list comes from the SDK's own source (v3 sagemaker.core.*, v2 sagemaker.*), so a new release cannot slip by.
"""

from __future__ import annotations

import ast
import importlib.util
from importlib.metadata import version
from pathlib import Path

import botocore.session
import pytest
from botocore import xform_name

from helpers.local_sagemaker import LocalSageMaker

SDK_MAJOR = int(version("sagemaker").split(".")[0])
_ROOT = "sagemaker.core" if SDK_MAJOR >= 3 else "sagemaker"
# (module, classes to read or None for the whole module): experiments, analytics, lineage as Run uses it
SCOPE = [
    (f"{_ROOT}.experiments", None),
    (f"{_ROOT}.analytics", {"ExperimentAnalytics"}),
    (f"{_ROOT}.lineage.artifact", {"Artifact"}),
    (f"{_ROOT}.lineage.association", {"Association"}),
    (f"{_ROOT}.apiutils._base_types", {"Record"}),
]
_CLIENTS = {"sagemaker_client": "sagemaker", "_sage_client": "sagemaker",
            "sagemaker_metrics_client": "sagemaker-metrics", "_metrics_client": "sagemaker-metrics"}
# Run reads its job's description when it runs inside one; jobs stay unsupported (issue 9, "Not here")
JOB_CALLS = {("sagemaker", f"describe_{job}_job") for job in ("training", "processing", "transform")}
# Record._search reads the method by name: getattr(sagemaker_client, "search")
_NAMED_METHOD_CALLS = {"_list": "sagemaker", "getattr": "sagemaker"}


def _source_files(module: str) -> list[Path]:
    spec = importlib.util.find_spec(module)
    if spec.submodule_search_locations:
        return sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.py"))
    return [Path(spec.origin)]


def _client_name(node) -> str | None:
    """"sagemaker_client" for `x.sagemaker_client` or a bare `sagemaker_client`."""
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return None


def _calls_in(tree) -> set[tuple[str, str]]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            service = _CLIENTS.get(_client_name(node.func.value))
            if service:
                found.add((service, node.func.attr))
        if isinstance(node, ast.Call):
            name = _client_name(node.func)
            if name in _NAMED_METHOD_CALLS:
                for arg in node.args:
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value.islower():
                        found.add((_NAMED_METHOD_CALLS[name], arg.value))
        # _boto_create_method = "create_trial" and friends, in the Record subclasses
        if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Constant):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id.startswith("_boto_") and t.id.endswith("_method")
                   for t in targets) and isinstance(node.value.value, str):
                found.add(("sagemaker", node.value.value))
    return found


def sdk_calls() -> set[tuple[str, str]]:
    """(service, snake_case method) pairs the in-scope SDK code calls."""
    calls = set()
    for module, classes in SCOPE:
        for path in _source_files(module):
            tree = ast.parse(path.read_text())
            roots = [tree] if classes is None else [
                n for n in tree.body if isinstance(n, ast.ClassDef) and n.name in classes
            ]
            assert roots, f"{module} has none of {classes}: the SDK moved code; update SCOPE"
            for root in roots:
                calls |= _calls_in(root)
    return calls


def _operation_names(service: str) -> dict[str, str]:
    model = botocore.session.get_session().get_service_model(service)
    return {xform_name(name): name for name in model.operation_names}


def test_the_derived_list_holds_what_run_and_analytics_are_known_to_call():
    calls = sdk_calls()
    # a sanity floor: a parser that found nothing would pass the next test for the wrong reason
    for known in [("sagemaker", "create_trial_component"), ("sagemaker", "search"),
                  ("sagemaker-metrics", "batch_put_metrics"), ("sagemaker", "delete_experiment"),
                  ("sagemaker", "disassociate_trial_component"), ("sagemaker", "describe_artifact")]:
        assert known in calls


def test_every_sdk_experiments_call_has_a_handler(tmp_path):
    backend = LocalSageMaker(tmp_path / "store")
    apis = {"sagemaker": backend.sagemaker, "sagemaker-metrics": backend.metrics}
    missing = []
    for service, method in sorted(sdk_calls() - JOB_CALLS):
        operation = _operation_names(service).get(method)
        assert operation, f"{service}.{method} is not in botocore's model"
        if not callable(getattr(apis[service], operation, None)):
            missing.append(f"{service}.{operation}")
    assert not missing, f"the SDK {version('sagemaker')} calls operations the stand-in does not serve: {missing}"


def test_job_calls_stay_unsupported_naming_the_operation(local_session):
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as caught:
        local_session.sagemaker_client.describe_training_job(TrainingJobName="job")
    assert caught.value.response["Error"]["Code"] == "UnsupportedOperation"
    assert "sagemaker.DescribeTrainingJob" in caught.value.response["Error"]["Message"]


@pytest.mark.parametrize("operation", ["DeleteTags", "ListAssociations", "DeleteAssociation"])
def test_the_issue_s_other_operations_are_served(tmp_path, operation):
    assert callable(getattr(LocalSageMaker(tmp_path / "store").sagemaker, operation, None))


def test_batch_get_metrics_is_served(tmp_path):
    assert callable(getattr(LocalSageMaker(tmp_path / "store").metrics, "BatchGetMetrics", None))
