"""Rules of SageMaker's API that botocore's service model states in words: page sizes and exclusive filters.

Read once from the loaded model (the MaxResults documentation and the "you can't filter by" sentences).
"""

from __future__ import annotations

import re
from functools import cache

import botocore.loaders
import botocore.model

from .errors import ValidationException

_DEFAULT = re.compile(r"default value is (\d+)", re.I)
_EXCLUSION = re.compile(r"If you specify (\w+), you can't filter by (\w+)(?: or (\w+))?")
SEARCH_DEFAULT_PAGE = 10  # AWS's Search page when MaxResults is absent; the model documents no default


@cache
def service_model(service: str = "sagemaker") -> botocore.model.ServiceModel:
    """botocore's model of a service, read by its loader alone: no Session, so no AWS_PROFILE or config
    file is read (a bad one must not stop the local stand-in)."""
    loader = botocore.loaders.create_loader()
    return botocore.model.ServiceModel(loader.load_service_model(service, "service-2"), service_name=service)


@cache
def _operation(service: str, operation: str):
    return service_model(service).operation_model(operation)


@cache
def default_page_size(operation: str, service: str = "sagemaker") -> int:
    """MaxResults when the caller gives none: the documented default, else the model's minimum, else 10."""
    member = _operation(service, operation).input_shape.members.get("MaxResults")
    if member is None:
        return SEARCH_DEFAULT_PAGE
    documented = _DEFAULT.search(re.sub("<[^>]+>", "", member.documentation or ""))
    if documented:
        return int(documented[1])
    return max(member.metadata.get("min", SEARCH_DEFAULT_PAGE), SEARCH_DEFAULT_PAGE)


@cache
def exclusions(operation: str, service: str = "sagemaker") -> dict[str, set[str]]:
    """Member -> the members the documentation says it cannot be combined with."""
    rules: dict[str, set[str]] = {}
    for name, member in _operation(service, operation).input_shape.members.items():
        for match in _EXCLUSION.finditer(re.sub("<[^>]+>", "", member.documentation or "")):
            if match[1] == name:
                rules.setdefault(name, set()).update(m for m in match.groups()[1:] if m)
    return rules


def check_exclusions(operation: str, params: dict) -> None:
    given = {name for name, value in params.items() if value not in (None, "")}
    for name, others in exclusions(operation).items():
        clash = sorted(given & others) if name in given else []
        if clash:
            raise ValidationException(
                f"{operation} accepts only one of {', '.join(sorted({name, *others}))}; "
                f"this request gives {name} and {', '.join(clash)}."
            )
