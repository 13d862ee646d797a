"""SageMaker Experiments, Search, tags and lineage operations over the Store, one method per operation.

Each takes the API params and returns the response document; hook.json_response keeps what the output shape holds.
"""

from __future__ import annotations

import time
import uuid

from . import model_rules
from .errors import ResourceNotFound, ValidationException
from .pipelines_api import PipelinesAPI
from .search import search_names
from .store import Store

# ARN resource type -> store kind, for the operations that take an ARN (AddTags, ListTags, DeleteTags)
_KIND_OF_ARN_TYPE = {
    "experiment": "experiment",
    "experiment-trial": "trial",
    "experiment-trial-component": "trial-component",
    "artifact": "artifact",
}
_LABEL = {"experiment": "Experiment", "trial": "Trial", "trial-component": "TrialComponent", "artifact": "Artifact"}
_ARN_TYPE = {kind: arn_type for arn_type, kind in _KIND_OF_ARN_TYPE.items()}
# how ListAssociations names the entity type behind an ARN
_ENTITY_TYPE = {"experiment-trial-component": "ExperimentTrialComponent", "experiment-trial": "ExperimentTrial",
                "experiment": "Experiment", "action": "Action", "context": "Context", "artifact": "Artifact"}
# the member that names an item of a List* answer -> its store kind (later pages re-read items by it)
_KIND_OF_KEY = {"TrialComponentName": "trial-component", "TrialName": "trial", "ExperimentName": "experiment",
                "ArtifactArn": "artifact", "AssociationKey": "association"}
_SEARCH_RECORD = {"ExperimentTrialComponent": ("trial-component", "TrialComponent"),
                  "ExperimentTrial": ("trial", "Trial"), "Experiment": ("experiment", "Experiment")}


class SageMakerAPI(PipelinesAPI):
    """The SageMaker operations that Run, load_run, list_runs, ExperimentAnalytics and the SDK's clean-up call."""

    def __init__(self, store: Store, arn_of, account_id: str = "123456789012"):
        self.store = store
        self._arn_of = arn_of
        # who made a change: the local caller as GetCallerIdentity answers it
        self._caller = {"IamIdentity": {"Arn": f"arn:aws:iam::{account_id}:user/local", "PrincipalId": "LOCALUSER"}}

    def _arn(self, kind: str, name: str) -> str:
        return self._arn_of(_ARN_TYPE.get(kind, kind), name)

    def _require(self, kind: str, name: str) -> dict:
        data = self.store.get(kind, name)
        if data is None:
            raise ResourceNotFound(f"{_LABEL[kind]} '{self._arn(kind, name)}' does not exist.")
        return data

    def _create(self, kind: str, name: str, doc: dict) -> str:
        now = time.time()
        doc = _drop_none({**doc, "CreationTime": now, "LastModifiedTime": now,
                          "CreatedBy": self._caller, "LastModifiedBy": self._caller})
        if not self.store.insert(kind, name, doc):
            arn = self._arn(kind, name)
            raise ValidationException(f"{_LABEL[kind]} with name {name} already exists: {arn}")
        return self._arn(kind, name)

    def _update(self, kind: str, name: str, change) -> dict:
        def stamped(doc):
            change(doc)
            doc["LastModifiedTime"] = time.time()
            doc["LastModifiedBy"] = self._caller

        doc = self.store.update(kind, name, stamped)
        return doc if doc is not None else self._require(kind, name)

    def _page(self, operation: str, items: list[dict], p: dict, key: str, name_key: str | None = None):
        """Sort (newest first unless asked otherwise) and cut the first page, or continue a saved order."""
        size = p.get("MaxResults") or model_rules.default_page_size(operation)
        if p.get("NextToken"):
            keys = self._cursor(p["NextToken"])
        else:
            sort_by = p.get("SortBy") or "CreationTime"
            if sort_by == "Name" and name_key:
                sort_by = name_key
            descending = (p.get("SortOrder") or "Descending") == "Descending"
            items = sorted(items, key=lambda d: _sort_key(d.get(sort_by)), reverse=descending)
            by_key = {item[key].lower(): item for item in items}
            keys = [item[key] for item in items]
            return self._cut(keys, size, lambda chunk: [by_key[k.lower()] for k in chunk])
        kind = _KIND_OF_KEY[key]
        return self._cut(keys, size, lambda chunk: _in_order(self.store.get_many(kind, chunk), chunk))

    def _cut(self, keys: list, size: int, fetch):
        chunk, rest = keys[:size], keys[size:]
        return fetch(chunk), (f"local-{self.store.save_cursor(rest)}" if rest else None)

    def _cursor(self, token: str) -> list:
        prefix, _, handle = token.partition("-")
        keys = self.store.load_cursor(handle) if prefix == "local" and handle.isalnum() else None
        if keys is None:
            raise ValidationException("Invalid pagination token because of unrecognized format.")
        return keys

    # Experiments

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

    def UpdateExperiment(self, p):
        def change(doc):
            doc.update({k: p[k] for k in ("DisplayName", "Description") if k in p})

        return {"ExperimentArn": self._update("experiment", p["ExperimentName"], change)["ExperimentArn"]}

    def DeleteExperiment(self, p):
        doc = self._require("experiment", p["ExperimentName"])
        trials = [t for t in self.store.all("trial") if _same(t["ExperimentName"], doc["ExperimentName"])]
        if trials:
            raise ValidationException(
                f"Experiment '{doc['ExperimentArn']}' still has {len(trials)} trial(s). All trials associated "
                "with the experiment must be deleted first; use ListTrials to find them."
            )
        self.store.delete("experiment", doc["ExperimentName"])
        return {"ExperimentArn": doc["ExperimentArn"]}

    def ListExperiments(self, p):
        experiments = _created_between(self.store.all("experiment"), p)
        page, token = self._page("ListExperiments", experiments, p, "ExperimentName", "ExperimentName")
        return {"ExperimentSummaries": page, "NextToken": token}

    # Trials

    def CreateTrial(self, p):
        name = p["TrialName"]
        self._require("experiment", p["ExperimentName"])
        arn = self._create("trial", name, {
            "TrialName": name,
            "TrialArn": self._arn("trial", name),
            "DisplayName": p.get("DisplayName", name),
            "ExperimentName": p["ExperimentName"],
            "MetadataProperties": p.get("MetadataProperties"),
            "Tags": p.get("Tags", []),
        })
        return {"TrialArn": arn}

    def DescribeTrial(self, p):
        return self._require("trial", p["TrialName"])

    def UpdateTrial(self, p):
        def change(doc):
            doc.update({k: p[k] for k in ("DisplayName",) if k in p})

        return {"TrialArn": self._update("trial", p["TrialName"], change)["TrialArn"]}

    def DeleteTrial(self, p):
        doc = self._require("trial", p["TrialName"])
        members = self._components_of(doc["TrialName"])
        if members:
            raise ValidationException(
                f"Trial '{doc['TrialArn']}' still has {len(members)} trial component(s) associated. All trial "
                "components that make up the trial must be disassociated or deleted first."
            )
        self.store.delete("trial", doc["TrialName"])
        return {"TrialArn": doc["TrialArn"]}

    def _components_of(self, trial_name: str) -> list[str]:
        rows = self.store.select(
            "SELECT DISTINCT name FROM facts WHERE kind = 'trial-component' AND property = 'Parents.TrialName' "
            "AND str = ? COLLATE NOCASE", [trial_name])
        return [row[0] for row in rows]

    def _member_summaries(self, trial_name: str) -> list[dict]:
        members = self._components_of(trial_name)
        docs = _in_order(self.store.get_many("trial-component", members), members)
        return [{"TrialComponentName": d["TrialComponentName"], "TrialComponentArn": d["TrialComponentArn"],
                 "TrialComponentSource": d.get("Source"), "CreationTime": d["CreationTime"],
                 "CreatedBy": d.get("CreatedBy")} for d in docs]

    def ListTrials(self, p):
        trials = _created_between(self.store.all("trial"), p)
        if p.get("ExperimentName"):
            trials = [t for t in trials if _same(t["ExperimentName"], p["ExperimentName"])]
        if p.get("TrialComponentName"):
            component = self._require("trial-component", p["TrialComponentName"])
            parents = {x["TrialName"].lower() for x in component["Parents"]}
            trials = [t for t in trials if t["TrialName"].lower() in parents]
        page, token = self._page("ListTrials", trials, p, "TrialName", "TrialName")
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

    def _with_metrics(self, components: list[dict]) -> list[dict]:
        summaries = self.store.metric_summaries([c["TrialComponentName"] for c in components])
        return [{**c, "Metrics": summaries[c["TrialComponentName"].lower()]}
                if c["TrialComponentName"].lower() in summaries else c for c in components]

    def DescribeTrialComponent(self, p):
        return self._with_metrics([self._require("trial-component", p["TrialComponentName"])])[0]

    def UpdateTrialComponent(self, p):
        def change(doc):
            for key in ("DisplayName", "Status", "StartTime", "EndTime"):
                if key in p:
                    doc[key] = p[key]
            for key in ("Parameters", "InputArtifacts", "OutputArtifacts"):
                doc.setdefault(key, {}).update(p.get(key, {}))
                for removed in p.get(f"{key}ToRemove", []):
                    doc[key].pop(removed, None)

        return {"TrialComponentArn": self._update("trial-component", p["TrialComponentName"], change)["TrialComponentArn"]}

    def DeleteTrialComponent(self, p):
        doc = self._require("trial-component", p["TrialComponentName"])
        if doc["Parents"]:
            trials = ", ".join(parent["TrialName"] for parent in doc["Parents"])
            raise ValidationException(
                f"TrialComponent '{doc['TrialComponentArn']}' is associated with trial(s) {trials}. A trial "
                "component must be disassociated from all trials before it can be deleted "
                "(DisassociateTrialComponent, or TrialComponent.delete(force_disassociate=True))."
            )
        self.store.delete("trial-component", doc["TrialComponentName"])
        for association in self._associations_of(doc["TrialComponentArn"]):  # its lineage edges go with it
            self.store.delete("association", _association_key(association))
        return {"TrialComponentArn": doc["TrialComponentArn"]}

    def AssociateTrialComponent(self, p):
        trial = self._require("trial", p["TrialName"])
        component = self._require("trial-component", p["TrialComponentName"])
        parent = {"TrialName": trial["TrialName"], "ExperimentName": trial["ExperimentName"]}

        def add_parent(doc):
            if not any(_same(x["TrialName"], parent["TrialName"]) for x in doc["Parents"]):
                doc["Parents"].append(parent)

        # a trial's members are read from its components' Parents (a Run's default trial holds every run
        # of an experiment: keeping a list in the trial would rewrite it whole on each association)
        doc = self._update("trial-component", component["TrialComponentName"], add_parent)
        return {"TrialComponentArn": doc["TrialComponentArn"], "TrialArn": trial["TrialArn"]}

    def DisassociateTrialComponent(self, p):
        trial = self._require("trial", p["TrialName"])
        component = self._require("trial-component", p["TrialComponentName"])
        if not any(_same(x["TrialName"], trial["TrialName"]) for x in component["Parents"]):
            raise ResourceNotFound(
                f"TrialComponent '{component['TrialComponentArn']}' is not associated with "
                f"Trial '{trial['TrialArn']}'."
            )

        def drop_parent(doc):
            doc["Parents"] = [x for x in doc["Parents"] if not _same(x["TrialName"], trial["TrialName"])]

        self._update("trial-component", component["TrialComponentName"], drop_parent)
        return {"TrialComponentArn": component["TrialComponentArn"], "TrialArn": trial["TrialArn"]}

    def ListTrialComponents(self, p):
        model_rules.check_exclusions("ListTrialComponents", p)
        components = _created_between(self.store.all("trial-component"), p)
        if p.get("ExperimentName"):
            self._require("experiment", p["ExperimentName"])
            components = [c for c in components if _has_parent(c, "ExperimentName", p["ExperimentName"])]
        if p.get("TrialName"):
            self._require("trial", p["TrialName"])
            components = [c for c in components if _has_parent(c, "TrialName", p["TrialName"])]
        if p.get("SourceArn"):  # jobs are not served here, so no component has a source
            components = [c for c in components if c.get("Source", {}).get("SourceArn") == p["SourceArn"]]
        page, token = self._page("ListTrialComponents", components, p, "TrialComponentName", "TrialComponentName")
        return {"TrialComponentSummaries": page, "NextToken": token}

    # Search

    def Search(self, p):
        resource = p["Resource"]
        if resource not in _SEARCH_RECORD:
            raise _unsupported_search(resource)
        kind, record = _SEARCH_RECORD[resource]
        size = p.get("MaxResults") or model_rules.default_page_size("Search")
        if p.get("NextToken"):
            names = self._cursor(p["NextToken"])
        else:
            names = search_names(self.store, resource, p.get("SearchExpression") or {},
                                 p.get("SortBy") or "LastModifiedTime", p.get("SortOrder") or "Descending")
        found, token = self._cut(names, size, lambda chunk: _in_order(self.store.get_many(kind, chunk), chunk))
        if kind == "trial-component":
            found = self._with_metrics(found)
        if kind == "trial":
            found = [{**trial, "TrialComponentSummaries": self._member_summaries(trial["TrialName"])} for trial in found]
        return {"Results": [{record: doc} for doc in found], "NextToken": token}

    # Tags

    def _tagged(self, arn: str) -> tuple[str, str]:
        resource = arn.split(":", 5)[-1]
        arn_type, _, name = resource.partition("/")
        kind = _KIND_OF_ARN_TYPE.get(arn_type)
        if kind == "artifact":
            name = arn
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
        tags = self.store.get(kind, name).get("Tags", [])
        size = p.get("MaxResults") or model_rules.default_page_size("ListTags")
        # tags keep their order; the token is the position in that order
        start = int(self._cursor(p["NextToken"])[0]) if p.get("NextToken") else 0
        rest = tags[start + size:]
        token = f"local-{self.store.save_cursor([start + size])}" if rest else None
        return {"Tags": tags[start:start + size], "NextToken": token}

    def DeleteTags(self, p):
        kind, name = self._tagged(p["ResourceArn"])
        removed = set(p["TagKeys"])

        def change(doc):
            doc["Tags"] = [t for t in doc.get("Tags", []) if t["Key"] not in removed]

        self.store.update(kind, name, change)
        return {}

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
            "MetadataProperties": p.get("MetadataProperties"),
            "Tags": p.get("Tags", []),
            "CreationTime": now,
            "LastModifiedTime": now,
            "CreatedBy": self._caller,
            "LastModifiedBy": self._caller,
        })
        if not self.store.insert("artifact", arn, doc):
            raise ValidationException(f"Artifact already exists with arn {arn}")
        return {"ArtifactArn": arn}

    def DescribeArtifact(self, p):
        return self._require("artifact", p["ArtifactArn"])

    def UpdateArtifact(self, p):
        def change(doc):
            if "ArtifactName" in p:
                doc["ArtifactName"] = p["ArtifactName"]
            doc.setdefault("Properties", {}).update(p.get("Properties", {}))
            for removed in p.get("PropertiesToRemove", []):
                doc["Properties"].pop(removed, None)

        return {"ArtifactArn": self._update("artifact", p["ArtifactArn"], change)["ArtifactArn"]}

    def DeleteArtifact(self, p):
        if p.get("ArtifactArn"):
            doc = self._require("artifact", p["ArtifactArn"])
        elif p.get("Source"):
            matches = [a for a in self.store.all("artifact") if a["Source"]["SourceUri"] == p["Source"]["SourceUri"]]
            if not matches:
                raise ResourceNotFound(f"Artifact with source URI '{p['Source']['SourceUri']}' does not exist.")
            doc = matches[0]
        else:
            raise ValidationException("Either ArtifactArn or Source must be specified.")
        associations = self._associations_of(doc["ArtifactArn"])
        if associations:
            raise ValidationException(
                f"Artifact '{doc['ArtifactArn']}' has {len(associations)} association(s). Delete them first "
                "(DeleteAssociation, or Artifact.delete(disassociate=True))."
            )
        self.store.delete("artifact", doc["ArtifactArn"])
        return {"ArtifactArn": doc["ArtifactArn"]}

    def ListArtifacts(self, p):
        artifacts = _created_between(self.store.all("artifact"), p)
        if p.get("SourceUri"):
            artifacts = [a for a in artifacts if a["Source"]["SourceUri"] == p["SourceUri"]]
        if p.get("ArtifactType"):
            artifacts = [a for a in artifacts if a.get("ArtifactType") == p["ArtifactType"]]
        page, token = self._page("ListArtifacts", artifacts, p, "ArtifactArn")
        return {"ArtifactSummaries": page, "NextToken": token}

    def _entity(self, arn: str) -> tuple[str, dict | None]:
        """The entity type an ARN names, and its document when the stand-in holds it."""
        arn_type, _, name = arn.split(":", 5)[-1].partition("/")
        kind = _KIND_OF_ARN_TYPE.get(arn_type)
        doc = self.store.get(kind, arn if kind == "artifact" else name) if kind else None
        return _ENTITY_TYPE.get(arn_type, arn_type), doc

    def AddAssociation(self, p):
        ends = {}
        for end in ("Source", "Destination"):
            entity_type, doc = self._entity(p[f"{end}Arn"])
            if doc is None and entity_type in _ENTITY_TYPE.values() and entity_type not in ("Action", "Context"):
                raise ResourceNotFound(f"{entity_type} '{p[f'{end}Arn']}' does not exist.")
            doc = doc or {}
            ends[f"{end}Type"] = doc.get("ArtifactType", entity_type)
            ends[f"{end}Name"] = doc.get("ArtifactName") or doc.get("TrialComponentName")
        key = _association_key(p)
        association = _drop_none({**p, **ends, "CreationTime": time.time(), "CreatedBy": self._caller})
        if not self.store.insert("association", key, association):
            raise ValidationException(f"Association already exists between {p['SourceArn']} and {p['DestinationArn']}")
        return {"SourceArn": p["SourceArn"], "DestinationArn": p["DestinationArn"]}

    def _associations_of(self, arn: str) -> list[dict]:
        return [a for a in self.store.all("association") if arn in (a["SourceArn"], a["DestinationArn"])]

    def ListAssociations(self, p):
        associations = _created_between(self.store.all("association"), p)
        for member in ("SourceArn", "DestinationArn", "SourceType", "DestinationType", "AssociationType"):
            if p.get(member):
                associations = [a for a in associations if a.get(member) == p[member]]
        for a in associations:
            a["AssociationKey"] = _association_key(a)
        page, token = self._page("ListAssociations", associations, p, "AssociationKey")
        return {"AssociationSummaries": page, "NextToken": token}

    def DeleteAssociation(self, p):
        if not self.store.delete("association", _association_key(p)):
            raise ResourceNotFound(
                f"Association between {p['SourceArn']} and {p['DestinationArn']} does not exist."
            )
        return {"SourceArn": p["SourceArn"], "DestinationArn": p["DestinationArn"]}


def _association_key(association: dict) -> str:
    return f"{association['SourceArn']}|{association['DestinationArn']}"


def _unsupported_search(resource: str):
    from .errors import LocalServiceError

    return LocalServiceError(
        "UnsupportedOperation",
        f"The local SageMaker stand-in does not implement sagemaker.Search on resource {resource} "
        "(it searches Experiment, ExperimentTrial and ExperimentTrialComponent). "
        "Use the aws backend (SAGEMAKER_BACKEND=aws) for this call.",
        501,
    )


def _in_order(found: dict[str, dict], keys: list[str]) -> list[dict]:
    """Documents in the saved order, leaving out the ones deleted since."""
    return [found[k.lower()] for k in keys if k.lower() in found]


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


def _sort_key(value):
    if isinstance(value, str):
        return (1, value.lower())
    return (0, value or 0)
