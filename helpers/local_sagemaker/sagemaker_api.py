"""SageMaker Experiments, Search, tags and lineage operations over the Store, one method per operation.

Each takes the API params and returns the response document; hook.json_response keeps what the output shape holds.
"""

from __future__ import annotations

import time
import uuid

from .errors import ResourceNotFound, ValidationException
from .pipelines_api import PipelinesAPI
from .store import Store

# ARN resource type -> store kind, for the operations that take an ARN (AddTags, ListTags)
_KIND_OF_ARN_TYPE = {
    "experiment": "experiment",
    "experiment-trial": "trial",
    "experiment-trial-component": "trial-component",
}
_LABEL = {"experiment": "Experiment", "trial": "Trial", "trial-component": "TrialComponent"}
_ARN_TYPE = {kind: arn_type for arn_type, kind in _KIND_OF_ARN_TYPE.items()}


class SageMakerAPI(PipelinesAPI):
    """The subset of SageMaker that Run, load_run, list_runs and ExperimentAnalytics call."""

    def __init__(self, store: Store, arn_of, metric_summaries):
        self.store = store
        self._arn_of = arn_of
        self._metric_summaries = metric_summaries

    def _arn(self, kind: str, name: str) -> str:
        return self._arn_of(_ARN_TYPE.get(kind, kind), name)

    def _require(self, kind: str, name: str) -> dict:
        data = self.store.get(kind, name)
        if data is None:
            raise ResourceNotFound(f"{_LABEL[kind]} '{self._arn(kind, name)}' does not exist.")
        return data

    def _create(self, kind: str, name: str, doc: dict) -> str:
        now = time.time()
        doc = _drop_none({**doc, "CreationTime": now, "LastModifiedTime": now})
        if not self.store.insert(kind, name, doc):
            arn = self._arn(kind, name)
            raise ValidationException(f"{_LABEL[kind]} with name {name} already exists: {arn}")
        return self._arn(kind, name)

    # Experiments and trials

    def CreateExperiment(self, p):
        name = p["ExperimentName"]
        arn = self._create("experiment", name, {
            "ExperimentName": name,
            "ExperimentArn": self._arn("experiment", name),
            "DisplayName": p.get("DisplayName", name),
            "Description": p.get("Description"),
            "Tags": p.get("Tags", []),
        })
        return {"ExperimentArn": arn}

    def DescribeExperiment(self, p):
        return self._require("experiment", p["ExperimentName"])

    def ListExperiments(self, p):
        experiments = _created_between(self.store.all("experiment"), p)
        page, token = _page(experiments, p, name_key="ExperimentName")
        return {"ExperimentSummaries": page, "NextToken": token}

    def CreateTrial(self, p):
        name = p["TrialName"]
        self._require("experiment", p["ExperimentName"])
        arn = self._create("trial", name, {
            "TrialName": name,
            "TrialArn": self._arn("trial", name),
            "DisplayName": p.get("DisplayName", name),
            "ExperimentName": p["ExperimentName"],
            "Tags": p.get("Tags", []),
        })
        return {"TrialArn": arn}

    def DescribeTrial(self, p):
        return self._require("trial", p["TrialName"])

    def ListTrials(self, p):
        trials = _created_between(self.store.all("trial"), p)
        if p.get("ExperimentName"):
            trials = [t for t in trials if _same(t["ExperimentName"], p["ExperimentName"])]
        if p.get("TrialComponentName"):
            component = self._require("trial-component", p["TrialComponentName"])
            parents = {x["TrialName"].lower() for x in component["Parents"]}
            trials = [t for t in trials if t["TrialName"].lower() in parents]
        page, token = _page(trials, p, name_key="TrialName")
        return {"TrialSummaries": page, "NextToken": token}

    # Trial components (a Run is one)

    def CreateTrialComponent(self, p):
        name = p["TrialComponentName"]
        arn = self._create("trial-component", name, {
            "TrialComponentName": name,
            "TrialComponentArn": self._arn("trial-component", name),
            "DisplayName": p.get("DisplayName", name),
            "Status": p.get("Status"),
            "StartTime": p.get("StartTime"),
            "EndTime": p.get("EndTime"),
            "Parameters": p.get("Parameters", {}),
            "InputArtifacts": p.get("InputArtifacts", {}),
            "OutputArtifacts": p.get("OutputArtifacts", {}),
            "MetadataProperties": p.get("MetadataProperties"),
            "Parents": [],
            "Tags": p.get("Tags", []),
        })
        return {"TrialComponentArn": arn}

    def _with_metrics(self, component: dict) -> dict:
        summaries = self._metric_summaries(component["TrialComponentName"])
        return {**component, "Metrics": summaries} if summaries else component

    def DescribeTrialComponent(self, p):
        return self._with_metrics(self._require("trial-component", p["TrialComponentName"]))

    def UpdateTrialComponent(self, p):
        name = p["TrialComponentName"]

        def change(doc):
            for key in ("DisplayName", "Status", "StartTime", "EndTime"):
                if key in p:
                    doc[key] = p[key]
            for key in ("Parameters", "InputArtifacts", "OutputArtifacts"):
                doc.setdefault(key, {}).update(p.get(key, {}))
                for removed in p.get(f"{key}ToRemove", []):
                    doc[key].pop(removed, None)
            doc["LastModifiedTime"] = time.time()

        doc = self.store.update("trial-component", name, change)
        if doc is None:
            self._require("trial-component", name)
        return {"TrialComponentArn": doc["TrialComponentArn"]}

    def AssociateTrialComponent(self, p):
        trial = self._require("trial", p["TrialName"])
        parent = {"TrialName": trial["TrialName"], "ExperimentName": trial["ExperimentName"]}

        def change(doc):
            if not any(_same(x["TrialName"], parent["TrialName"]) for x in doc["Parents"]):
                doc["Parents"].append(parent)

        doc = self.store.update("trial-component", p["TrialComponentName"], change)
        if doc is None:
            self._require("trial-component", p["TrialComponentName"])
        return {"TrialComponentArn": doc["TrialComponentArn"], "TrialArn": trial["TrialArn"]}

    def ListTrialComponents(self, p):
        components = _created_between(self.store.all("trial-component"), p)
        if p.get("ExperimentName"):
            self._require("experiment", p["ExperimentName"])
            components = [c for c in components if _has_parent(c, "ExperimentName", p["ExperimentName"])]
        if p.get("TrialName"):
            self._require("trial", p["TrialName"])
            components = [c for c in components if _has_parent(c, "TrialName", p["TrialName"])]
        if p.get("SourceArn"):  # jobs are not served here, so no component has a source
            components = [c for c in components if c.get("Source", {}).get("SourceArn") == p["SourceArn"]]
        page, token = _page(components, p, name_key="TrialComponentName")
        return {"TrialComponentSummaries": page, "NextToken": token}

    def Search(self, p):
        if p["Resource"] != "ExperimentTrialComponent":
            raise ValidationException(
                f"The local SageMaker stand-in searches ExperimentTrialComponent only, not {p['Resource']}. "
                "Use the aws backend (SAGEMAKER_BACKEND=aws) for other resources."
            )
        expression = p.get("SearchExpression", {})
        found = [c for c in self.store.all("trial-component") if _matches(c, expression)]
        sort_by = p.get("SortBy") or "LastModifiedTime"
        page, token = _page(found, {**p, "SortBy": sort_by}, name_key="TrialComponentName")
        return {"Results": [{"TrialComponent": self._with_metrics(c)} for c in page], "NextToken": token}

    # Tags

    def _tagged(self, arn: str) -> tuple[str, str]:
        resource = arn.split(":", 5)[-1]
        arn_type, _, name = resource.partition("/")
        kind = _KIND_OF_ARN_TYPE.get(arn_type)
        if kind is None or self.store.get(kind, name) is None:
            raise ResourceNotFound(f"Resource '{arn}' does not exist.")
        return kind, name

    def AddTags(self, p):
        kind, name = self._tagged(p["ResourceArn"])

        def change(doc):
            tags = {t["Key"]: t for t in doc.get("Tags", [])}
            tags.update({t["Key"]: t for t in p["Tags"]})
            doc["Tags"] = list(tags.values())

        self.store.update(kind, name, change)
        return {"Tags": p["Tags"]}

    def ListTags(self, p):
        kind, name = self._tagged(p["ResourceArn"])
        page, token = _page(self.store.get(kind, name).get("Tags", []), p)  # stable: tags keep their order
        return {"Tags": page, "NextToken": token}

    # Lineage, written when a Run with artifacts closes

    def CreateArtifact(self, p):
        uri = p["Source"]["SourceUri"]
        # one artifact per source URI: the SDK meets "already exists" when it logs the same file again
        arn = self._arn_of("artifact", uuid.uuid5(uuid.NAMESPACE_URL, uri).hex)
        now = time.time()
        doc = _drop_none({
            "ArtifactArn": arn,
            "ArtifactName": p.get("ArtifactName"),
            "Source": p["Source"],
            "ArtifactType": p["ArtifactType"],
            "Properties": p.get("Properties", {}),
            "CreationTime": now,
            "LastModifiedTime": now,
        })
        if not self.store.insert("artifact", arn, doc):
            raise ValidationException(f"Artifact already exists with arn {arn}")
        return {"ArtifactArn": arn}

    def ListArtifacts(self, p):
        artifacts = _created_between(self.store.all("artifact"), p)
        if p.get("SourceUri"):
            artifacts = [a for a in artifacts if a["Source"]["SourceUri"] == p["SourceUri"]]
        if p.get("ArtifactType"):
            artifacts = [a for a in artifacts if a.get("ArtifactType") == p["ArtifactType"]]
        page, token = _page(artifacts, p)
        return {"ArtifactSummaries": page, "NextToken": token}

    def AddAssociation(self, p):
        key = f"{p['SourceArn']}|{p['DestinationArn']}"
        if not self.store.insert("association", key, dict(p)):
            raise ValidationException(f"Association already exists between {p['SourceArn']} and {p['DestinationArn']}")
        return {"SourceArn": p["SourceArn"], "DestinationArn": p["DestinationArn"]}


def _same(a: str | None, b: str | None) -> bool:
    """Names are unique regardless of case on SageMaker."""
    return (a or "").lower() == (b or "").lower()


def _has_parent(component: dict, key: str, name: str) -> bool:
    return any(_same(parent[key], name) for parent in component["Parents"])


def _drop_none(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if v is not None}


def _created_between(items: list[dict], p: dict) -> list[dict]:
    after, before = p.get("CreatedAfter"), p.get("CreatedBefore")
    return [
        item for item in items
        if (after is None or item["CreationTime"] > after) and (before is None or item["CreationTime"] < before)
    ]


def _page(items: list[dict], p: dict, name_key: str | None = None):
    """Sort (newest first unless asked otherwise), then cut one page; NextToken is an opaque offset."""
    sort_by = p.get("SortBy") or "CreationTime"
    if sort_by == "Name" and name_key:
        sort_by = name_key
    descending = (p.get("SortOrder") or "Descending") == "Descending"
    items = sorted(items, key=lambda d: _sort_key(d.get(sort_by)), reverse=descending)
    token = p.get("NextToken")
    start = _offset(token) if token else 0
    size = p.get("MaxResults") or 10
    page = items[start : start + size]
    more = start + size < len(items)
    return page, (f"local-{start + size}" if more else None)


def _offset(token: str) -> int:
    prefix, _, number = token.partition("-")
    if prefix != "local" or not number.isdigit():
        raise ValidationException("Invalid pagination token because of unrecognized format.")
    return int(number)


def _sort_key(value):
    if isinstance(value, str):
        return (1, value.lower())
    return (0, value or 0)


def _field(doc: dict, name: str) -> list:
    """Values of a Search filter field such as Parents.ExperimentName, Tags.team or Parameters.x."""
    head, _, rest = name.partition(".")
    if head == "Parents":
        return [parent.get(rest) for parent in doc.get("Parents", [])]
    if head == "Tags":
        return [t["Value"] for t in doc.get("Tags", []) if t["Key"] == rest]
    if head in ("Parameters", "InputArtifacts", "OutputArtifacts"):
        value = doc.get(head, {}).get(rest)
        if not value:
            return []
        return [value.get("StringValue", value.get("NumberValue", value.get("Value")))]
    if head == "Metrics":  # Metrics.<name>.<statistic>
        metric, _, statistic = rest.rpartition(".")
        return [m[statistic] for m in doc.get("Metrics", []) if m["MetricName"] == metric and statistic in m]
    node = doc
    for part in name.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return [] if node is None else [node]


def _compare(op: str, values: list, target) -> bool:
    if op == "Exists":
        return bool(values)
    if op == "NotExists":
        return not values
    if op == "NotEquals":
        return all(str(v) != str(target) for v in values)
    for value in values:
        if op == "Equals" and str(value) == str(target):  # AWS compares names case-sensitively here
            return True
        if op == "Contains" and str(target) in str(value):
            return True
        if op == "In" and str(value) in [x.strip() for x in str(target).split(",")]:
            return True
        if op in _ORDERINGS and _ordered(op, value, target):
            return True
    return False


_ORDERINGS = {
    "GreaterThan": lambda a, b: a > b,
    "GreaterThanOrEqualTo": lambda a, b: a >= b,
    "LessThan": lambda a, b: a < b,
    "LessThanOrEqualTo": lambda a, b: a <= b,
}


def _ordered(op: str, value, target) -> bool:
    try:
        return _ORDERINGS[op](float(value), float(target))
    except (TypeError, ValueError):
        return _ORDERINGS[op](str(value), str(target))


def _matches(doc: dict, expression: dict) -> bool:
    checks = [
        _compare(f.get("Operator", "Equals"), _field(doc, f["Name"]), f.get("Value"))
        for f in expression.get("Filters", [])
    ]
    checks += [_matches(doc, sub) for sub in expression.get("SubExpressions", [])]
    checks += [_nested_matches(doc, nested) for nested in expression.get("NestedFilters", [])]
    if not checks:
        return True
    return any(checks) if expression.get("Operator") == "Or" else all(checks)


def _nested_matches(doc: dict, nested: dict) -> bool:
    """NestedFilters: all filters hold for one element of a list property, e.g. Parents."""
    items = doc.get(nested["NestedPropertyName"], [])
    prefix = nested["NestedPropertyName"] + "."
    return any(
        all(_compare(f.get("Operator", "Equals"), _item_field(item, f["Name"], prefix), f.get("Value"))
            for f in nested["Filters"])
        for item in items
    )


def _item_field(item: dict, name: str, prefix: str) -> list:
    key = name[len(prefix):] if name.startswith(prefix) else name
    return [item[key]] if item.get(key) is not None else []
