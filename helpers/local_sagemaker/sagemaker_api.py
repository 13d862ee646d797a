"""SageMaker Experiments, Search, lineage and sagemaker-metrics operations, over the Store.

Each handler takes the API params and returns the response dict, as AWS would.
"""

from __future__ import annotations

import time
import uuid

from .errors import LocalServiceError, ResourceNotFound, ValidationException
from .store import Store


def _now() -> float:
    return time.time()


class SageMakerAPI:
    """The subset of SageMaker that Run, load_run, list_runs and ExperimentAnalytics call."""

    def __init__(self, store: Store, region: str, account_id: str):
        self.store = store
        self.region = region
        self.account_id = account_id

    def _arn(self, kind: str, name: str) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account_id}:{kind}/{name.lower()}"

    def _exists_error(self, kind: str, name: str, arn: str) -> ValidationException:
        return ValidationException(f"{kind} with name {name} already exists: {arn}")

    def _require(self, kind: str, name: str, label: str) -> dict:
        data = self.store.get(kind, name)
        if data is None:
            raise ResourceNotFound(f"{label} '{self._arn(kind, name)}' does not exist.")
        return data

    # Experiments and trials

    def CreateExperiment(self, p):
        name = p["ExperimentName"]
        arn = self._arn("experiment", name)
        doc = {
            "ExperimentName": name,
            "ExperimentArn": arn,
            "DisplayName": p.get("DisplayName", name),
            "Description": p.get("Description"),
            "CreationTime": _now(),
            "LastModifiedTime": _now(),
            "Tags": p.get("Tags", []),
        }
        if not self.store.insert("experiment", name, _drop_none(doc)):
            raise self._exists_error("Experiment", name, arn)
        return {"ExperimentArn": arn}

    def DescribeExperiment(self, p):
        doc = self._require("experiment", p["ExperimentName"], "Experiment")
        doc.pop("Tags", None)
        return doc

    def CreateTrial(self, p):
        name = p["TrialName"]
        self._require("experiment", p["ExperimentName"], "Experiment")
        arn = self._arn("experiment-trial", name)
        doc = {
            "TrialName": name,
            "TrialArn": arn,
            "DisplayName": p.get("DisplayName", name),
            "ExperimentName": p["ExperimentName"],
            "CreationTime": _now(),
            "LastModifiedTime": _now(),
            "Tags": p.get("Tags", []),
        }
        if not self.store.insert("trial", name, doc):
            raise self._exists_error("Trial", name, arn)
        return {"TrialArn": arn}

    def DescribeTrial(self, p):
        doc = self._require("trial", p["TrialName"], "Trial")
        doc.pop("Tags", None)
        return doc

    def ListTrials(self, p):
        trials = self.store.all("trial")
        if p.get("ExperimentName"):
            trials = [t for t in trials if _same(t["ExperimentName"], p["ExperimentName"])]
        if p.get("TrialComponentName"):
            tc = self._require("trial-component", p["TrialComponentName"], "TrialComponent")
            names = {x["TrialName"].lower() for x in tc.get("Parents", [])}
            trials = [t for t in trials if t["TrialName"].lower() in names]
        keys = ["TrialName", "TrialArn", "DisplayName", "CreationTime", "LastModifiedTime"]
        summaries = [{k: t[k] for k in keys if k in t} for t in trials]
        page, token = _page(summaries, p, "CreationTime")
        return _drop_none({"TrialSummaries": page, "NextToken": token})

    # Trial components

    def CreateTrialComponent(self, p):
        name = p["TrialComponentName"]
        arn = self._arn("experiment-trial-component", name)
        doc = {
            "TrialComponentName": name,
            "TrialComponentArn": arn,
            "DisplayName": p.get("DisplayName", name),
            "Status": p.get("Status"),
            "StartTime": p.get("StartTime"),
            "EndTime": p.get("EndTime"),
            "CreationTime": _now(),
            "LastModifiedTime": _now(),
            "Parameters": p.get("Parameters", {}),
            "InputArtifacts": p.get("InputArtifacts", {}),
            "OutputArtifacts": p.get("OutputArtifacts", {}),
            "Parents": [],
            "Tags": p.get("Tags", []),
        }
        if not self.store.insert("trial-component", name, _drop_none(doc)):
            raise self._exists_error("TrialComponent", name, arn)
        return {"TrialComponentArn": arn}

    def _trial_component(self, name: str) -> dict:
        doc = self._require("trial-component", name, "TrialComponent")
        doc["Metrics"] = self.store.metric_summaries(name)
        return doc

    def DescribeTrialComponent(self, p):
        doc = self._trial_component(p["TrialComponentName"])
        for key in ("Parents", "Tags"):
            doc.pop(key, None)
        return doc

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
            doc["LastModifiedTime"] = _now()

        doc = self.store.update("trial-component", name, change)
        if doc is None:
            raise ResourceNotFound(
                f"TrialComponent '{self._arn('experiment-trial-component', name)}' does not exist."
            )
        return {"TrialComponentArn": doc["TrialComponentArn"]}

    def AssociateTrialComponent(self, p):
        trial = self._require("trial", p["TrialName"], "Trial")
        parent = {"TrialName": trial["TrialName"], "ExperimentName": trial["ExperimentName"]}

        def change(doc):
            if not any(_same(x["TrialName"], parent["TrialName"]) for x in doc["Parents"]):
                doc["Parents"].append(parent)

        doc = self.store.update("trial-component", p["TrialComponentName"], change)
        if doc is None:
            self._require("trial-component", p["TrialComponentName"], "TrialComponent")
        return {"TrialComponentArn": doc["TrialComponentArn"], "TrialArn": trial["TrialArn"]}

    def ListTrialComponents(self, p):
        tcs = self._filtered_components(p.get("ExperimentName"), p.get("TrialName"))
        keys = [
            "TrialComponentName", "TrialComponentArn", "DisplayName", "Status",
            "StartTime", "EndTime", "CreationTime", "LastModifiedTime",
        ]
        summaries = [{k: tc[k] for k in keys if k in tc} for tc in tcs]
        page, token = _page(summaries, p, "CreationTime", name_key="TrialComponentName")
        return _drop_none({"TrialComponentSummaries": page, "NextToken": token})

    def _filtered_components(self, experiment=None, trial=None) -> list[dict]:
        tcs = self.store.all("trial-component")
        if experiment:
            tcs = [t for t in tcs if any(_same(x["ExperimentName"], experiment) for x in t["Parents"])]
        if trial:
            tcs = [t for t in tcs if any(_same(x["TrialName"], trial) for x in t["Parents"])]
        return tcs

    def Search(self, p):
        if p["Resource"] != "ExperimentTrialComponent":
            raise LocalServiceError(
                "ValidationException",
                f"The local stand-in searches ExperimentTrialComponent only, not {p['Resource']}.",
            )
        expression = p.get("SearchExpression", {})
        tcs = self.store.all("trial-component")
        tcs = [t for t in tcs if _matches(t, expression)]
        for tc in tcs:
            tc["Metrics"] = self.store.metric_summaries(tc["TrialComponentName"])
        sort_by = {"Name": "TrialComponentName"}.get(p.get("SortBy"), p.get("SortBy") or "LastModifiedTime")
        page, token = _page(tcs, {**p, "SortBy": sort_by}, sort_by)
        return _drop_none({"Results": [{"TrialComponent": tc} for tc in page], "NextToken": token})

    # Metrics

    def BatchPutMetrics(self, p):
        name = p["TrialComponentName"]
        self._require("trial-component", name, "TrialComponent")
        points = [
            (m["MetricName"], float(m["Value"]), _epoch(m["Timestamp"]), m.get("Step"))
            for m in p["MetricData"]
        ]
        self.store.add_metrics(name, points)
        return {"Errors": []}

    # Lineage, written when a Run with artifacts closes

    def CreateArtifact(self, p):
        uri = p["Source"]["SourceUri"]
        arn = self._arn("artifact", uuid.uuid5(uuid.NAMESPACE_URL, uri).hex)
        doc = {
            "ArtifactArn": arn,
            "ArtifactName": p.get("ArtifactName"),
            "Source": p["Source"],
            "ArtifactType": p.get("ArtifactType"),
            "Properties": p.get("Properties", {}),
            "CreationTime": _now(),
            "LastModifiedTime": _now(),
        }
        if not self.store.insert("artifact", arn, _drop_none(doc)):
            raise ValidationException(f"Artifact already exists: {arn}")
        return {"ArtifactArn": arn}

    def ListArtifacts(self, p):
        arts = self.store.all("artifact")
        if p.get("SourceUri"):
            arts = [a for a in arts if a["Source"]["SourceUri"] == p["SourceUri"]]
        if p.get("ArtifactType"):
            arts = [a for a in arts if a.get("ArtifactType") == p["ArtifactType"]]
        page, token = _page(arts, p, "CreationTime")
        return _drop_none({"ArtifactSummaries": page, "NextToken": token})

    def AddAssociation(self, p):
        key = f"{p['SourceArn']}|{p['DestinationArn']}"
        self.store.insert("association", key, dict(p))
        return {"SourceArn": p["SourceArn"], "DestinationArn": p["DestinationArn"]}

    def AddTags(self, p):
        return {"Tags": p.get("Tags", [])}

    def ListTags(self, p):
        return {"Tags": []}


def _same(a: str | None, b: str | None) -> bool:
    return (a or "").lower() == (b or "").lower()


def _drop_none(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if v is not None}


def _epoch(value) -> float:
    if isinstance(value, int | float):
        return float(value)
    return value.timestamp()


def _page(items: list[dict], p: dict, default_sort: str, name_key: str | None = None):
    """Sort, then cut one page; NextToken is the offset, opaque to callers."""
    sort_by = p.get("SortBy") or default_sort
    if sort_by == "Name" and name_key:
        sort_by = name_key
    reverse = (p.get("SortOrder") or "Descending") == "Descending"
    items = sorted(items, key=lambda d: _sort_key(d.get(sort_by)), reverse=reverse)
    try:
        start = int(p.get("NextToken") or 0)
    except ValueError:
        raise ValidationException("Invalid pagination token: NextToken.") from None
    size = p.get("MaxResults") or 10
    page = items[start : start + size]
    token = str(start + size) if start + size < len(items) else None
    return page, token


def _sort_key(value):
    if isinstance(value, str):
        return (1, value.lower())
    return (0, value or 0)


def _field(doc: dict, name: str) -> list:
    """Values of a Search filter field such as Parents.ExperimentName or Tags.team."""
    if name.startswith("Parents."):
        key = name.split(".", 1)[1]
        return [x.get(key) for x in doc.get("Parents", [])]
    if name.startswith("Tags."):
        key = name.split(".", 1)[1]
        return [t["Value"] for t in doc.get("Tags", []) if t["Key"] == key]
    if name.startswith("Parameters."):
        value = doc.get("Parameters", {}).get(name.split(".", 1)[1], {})
        return [value.get("StringValue", value.get("NumberValue"))] if value else []
    node = doc
    for part in name.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return [] if node is None else [node]


def _compare(op: str, values: list, target):
    def num(x):
        try:
            return float(x)
        except (TypeError, ValueError):
            return x

    if op == "Exists":
        return bool(values)
    if op == "NotExists":
        return not values
    if op == "NotEquals":
        return all(str(v).lower() != str(target).lower() for v in values)
    for v in values:
        sv, st = str(v).lower(), str(target).lower()
        if op == "Equals" and str(v) == str(target):
            return True
        if op == "Contains" and st in sv:
            return True
        if op == "In" and sv in [x.strip().lower() for x in str(target).split(",")]:
            return True
        if op in ("GreaterThan", "GreaterThanOrEqualTo", "LessThan", "LessThanOrEqualTo"):
            a, b = num(v), num(target)
            try:
                if {
                    "GreaterThan": a > b,
                    "GreaterThanOrEqualTo": a >= b,
                    "LessThan": a < b,
                    "LessThanOrEqualTo": a <= b,
                }[op]:
                    return True
            except TypeError:
                continue
    return False


def _matches(doc: dict, expression: dict) -> bool:
    checks = [
        _compare(f.get("Operator", "Equals"), _field(doc, f["Name"]), f.get("Value"))
        for f in expression.get("Filters", [])
    ]
    checks += [_matches(doc, sub) for sub in expression.get("SubExpressions", [])]
    if not checks:
        return True
    return any(checks) if expression.get("Operator") == "Or" else all(checks)
