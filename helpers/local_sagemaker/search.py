"""SageMaker Search over the store: which properties are searchable (from botocore's model), the index, the SQL.

Each entity's searchable values are facts in SQLite; a SearchExpression compiles to one query over them.
"""

from __future__ import annotations

import datetime
import math

from .errors import ValidationException
from .model_rules import service_model

# Search resource -> (store kind, the SearchRecord member holding it, its name property)
RESOURCES = {
    "ExperimentTrialComponent": ("trial-component", "TrialComponent", "TrialComponentName"),
    "ExperimentTrial": ("trial", "Trial", "TrialName"),
    "Experiment": ("experiment", "Experiment", "ExperimentName"),
}
_SQL_OPERATORS = {"Equals": "=", "NotEquals": "=", "GreaterThan": ">", "GreaterThanOrEqualTo": ">=",
                  "LessThan": "<", "LessThanOrEqualTo": "<="}
# a trial's members, and where their fields live in a trial component
_MEMBERS = "TrialComponentSummaries"
_MEMBER_PROPERTY = {"TrialComponentSource.SourceArn": "Source.SourceArn",
                    "TrialComponentSource.SourceType": "Source.SourceType"}
# what a named statistic is called in Metrics.<name>.<statistic>
METRIC_STATISTICS = ("Min", "Max", "Avg", "StdDev", "Last", "Count")


def _model():
    return service_model("sagemaker")


def record_shape(resource: str):
    return _model().shape_for("SearchRecord").members[RESOURCES[resource][1]]


# The index: an entity's searchable values, written whenever it changes


def _scalar(value) -> tuple[float | None, str | None]:
    if isinstance(value, bool):
        return None, "true" if value else "false"
    if isinstance(value, int | float):
        return float(value), None
    if isinstance(value, str):
        return None, value
    return None, None


def _flatten(prefix: str, value, item: int, out: list) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else key, inner, item, out)
    elif not isinstance(value, list):
        num, text = _scalar(value)
        if num is not None or text is not None:
            out.append((prefix, item, num, text))


def entity_facts(kind: str, doc: dict) -> list[tuple]:
    """(property, item, number, string) rows for every searchable value of one entity but its metrics."""
    facts: list[tuple] = []
    for key, value in doc.items():
        if key in ("Parameters", "InputArtifacts", "OutputArtifacts", "Tags", "Parents",
                   "TrialComponentSummaries", "Metrics"):
            continue
        _flatten(key, value, 0, facts)
    for name, value in doc.get("Parameters", {}).items():
        if "NumberValue" in value:
            facts.append((f"Parameters.{name}", 0, float(value["NumberValue"]), None))
        elif "StringValue" in value:
            facts.append((f"Parameters.{name}", 0, None, value["StringValue"]))
    for side in ("InputArtifacts", "OutputArtifacts"):
        for name, value in doc.get(side, {}).items():
            facts.append((f"{side}.{name}", 0, None, value.get("Value")))
            for member in ("Value", "MediaType"):
                if value.get(member) is not None:
                    facts.append((f"{side}.{name}.{member}", 0, None, value[member]))
    for i, tag in enumerate(doc.get("Tags", [])):
        facts += [(f"Tags.{tag['Key']}", 0, None, tag.get("Value", "")),
                  ("Tags.Key", i, None, tag["Key"]), ("Tags.Value", i, None, tag.get("Value", ""))]
    for i, element in enumerate(doc.get("Parents", [])):
        _flatten("Parents", element, i, facts)
    return facts


def metric_facts(summaries: list[dict]) -> list[tuple]:
    """Metrics.<name>.<statistic> for plain filters, Metrics.<member> per summary for nested ones."""
    facts = []
    for i, summary in enumerate(summaries):
        name = summary["MetricName"]
        facts.append(("Metrics.MetricName", i, None, name))
        for statistic in METRIC_STATISTICS:
            if summary.get(statistic) is not None:
                value = float(summary[statistic])
                facts += [(f"Metrics.{name}.{statistic}", 0, value, None), (f"Metrics.{statistic}", i, value, None)]
    return facts


# Property names, checked against the model's shape of the searched record


def _leaf(shape, parts: list[str]):
    """The scalar shape at parts inside a structure, or None."""
    for part in parts:
        if shape.type_name != "structure" or part not in shape.members:
            return None
        shape = shape.members[part]
    return shape if shape.type_name not in ("structure", "list", "map") else None


def property_type(resource: str, name: str, nested_in: str | None = None) -> str:
    """The type of a searchable property ("string", "double", "timestamp", "any"); ValidationException if none."""
    shape = record_shape(resource)
    head, _, rest = name.partition(".")
    member = shape.members.get(head)
    found = None
    if member is not None and member.type_name == "map":
        found = "any" if rest else None  # Parameters.<name>, InputArtifacts.<name>[.Value]
    elif member is not None and member.type_name == "list" and member.member.type_name == "structure":
        element = member.member
        if head == "Metrics" and rest.rpartition(".")[2] in METRIC_STATISTICS and "." in rest:
            found = "double"  # Metrics.<name>.<statistic>
        elif head == "Tags" and rest and rest not in element.members:
            found = "string"  # Tags.<key>
        else:
            leaf = _leaf(element, rest.split(".")) if rest else None
            found = leaf.type_name if leaf is not None else None
    elif member is not None:
        leaf = member if not rest else _leaf(member, rest.split("."))
        found = leaf.type_name if leaf is not None and leaf.type_name not in ("structure", "list", "map") else None
    if nested_in is not None and not name.startswith(nested_in + "."):
        found = None
    if found is None:
        where = f" inside NestedFilters on {nested_in}" if nested_in else ""
        raise ValidationException(
            f"Invalid search expression: '{name}' is not a searchable property of {resource}{where}. "
            f"Use a member of the {RESOURCES[resource][1]} record, e.g. Parameters.<name>, "
            "Metrics.<name>.<Min|Max|Avg|StdDev|Last|Count>, Tags.<key>, Parents.ExperimentName."
        )
    return found


def _nested_list(resource: str, name: str) -> None:
    member = record_shape(resource).members.get(name)
    if member is None or member.type_name != "list" or member.member.type_name != "structure":
        lists = [n for n, m in record_shape(resource).members.items()
                 if m.type_name == "list" and m.member.type_name == "structure"]
        raise ValidationException(
            f"Invalid search expression: NestedPropertyName '{name}' is not a list property of {resource}; "
            f"nested filters apply to one of {', '.join(lists)}."
        )


# Values


def _epoch(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()


def _number(text: str, kind: str) -> float | None:
    if kind == "timestamp":
        return _epoch(text)
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


# Compiling an expression


class _Query:
    def __init__(self, resource: str):
        self.resource = resource
        self.kind = RESOURCES[resource][0]
        self.args: list = []

    def condition(self, f: dict, alias: str, nested_in: str | None = None) -> str:
        """SQL on the fact row `alias` for one filter's value test (the property is matched by the caller)."""
        name, op, value = f["Name"], f.get("Operator", "Equals"), f.get("Value")
        kind = property_type(self.resource, name, nested_in)
        if op in ("Exists", "NotExists"):
            return "1"
        if value is None:
            raise ValidationException(f"Invalid search expression: the {op} filter on '{name}' needs a Value.")
        if op == "Contains":
            self.args.append(value)
            return f"instr({alias}.str, ?) > 0"
        if op == "In":
            options = [v.strip() for v in value.split(",") if v.strip()]
            numbers = [n for n in (_number(v, kind) for v in options) if n is not None]
            self.args += options + numbers
            return (f"({alias}.str IN ({','.join('?' * len(options))}) "
                    f"OR {alias}.num IN ({','.join('?' * len(numbers))}))")
        sql_op = _SQL_OPERATORS[op]
        number = _number(value, kind)
        if kind in ("timestamp", "double", "integer", "long") and number is None:
            raise ValidationException(
                f"Invalid search expression: '{name}' holds numbers; the value '{value}' of the {op} filter is not one."
            )
        parts = []
        if number is not None:
            self.args.append(number)
            parts.append(f"{alias}.num {sql_op} ?")
        if kind not in ("timestamp", "double", "integer", "long"):
            self.args.append(value)
            parts.append(f"{alias}.str {sql_op} ?")
        return "(" + " OR ".join(parts) + ")"

    def filter(self, f: dict) -> str:
        name, op = f["Name"], f.get("Operator", "Equals")
        if self.kind == "trial" and name.startswith(_MEMBERS + "."):
            return self._member_filter(f)
        self.args += [self.kind, name]
        matching = "SELECT f.name FROM facts f WHERE f.kind = ? AND f.property = ?"
        test = self.condition(f, "f")
        negate = op in ("NotEquals", "NotExists")
        return f"e.name {'NOT IN' if negate else 'IN'} ({matching} AND {test})"

    def _member_filter(self, f: dict) -> str:
        """A trial's TrialComponentSummaries.<member>: tested on its components, found by their Parents."""
        member = f["Name"][len(_MEMBERS) + 1:]
        self.args.append(_MEMBER_PROPERTY.get(member, member))
        test = self.condition(f, "f")  # checks the name against the model's Trial record, and the value
        negate = f.get("Operator", "Equals") in ("NotEquals", "NotExists")
        components = ("SELECT f.name FROM facts f WHERE f.kind = 'trial-component' AND f.property = ? "
                      f"AND {test}")
        parents = ("SELECT p.str FROM facts p WHERE p.kind = 'trial-component' AND p.property = 'Parents.TrialName' "
                   f"AND p.name IN ({components})")
        return f"e.name {'NOT IN' if negate else 'IN'} ({parents})"

    def nested(self, nested: dict) -> str:
        list_name = nested["NestedPropertyName"]
        _nested_list(self.resource, list_name)
        if self.kind == "trial" and list_name == _MEMBERS:
            raise ValidationException(
                f"The local SageMaker stand-in does not serve NestedFilters on {_MEMBERS}; "
                f"use Filters on {_MEMBERS}.<member>."
            )
        filters = nested.get("Filters", [])
        if not filters:
            raise ValidationException(f"Invalid search expression: NestedFilters on {list_name} has no Filters.")
        tables, wheres = [], []
        for i, f in enumerate(filters):
            alias = f"n{i}"
            if f.get("Operator") in ("NotEquals", "NotExists"):
                raise ValidationException(
                    f"Invalid search expression: {f['Operator']} is not supported inside NestedFilters "
                    f"('{f['Name']}'); use it in Filters."
                )
            tables.append(f"facts {alias}")
            if i:  # every filter holds for the same element of the list
                wheres.append(f"{alias}.name = n0.name AND {alias}.item = n0.item")
            self.args += [self.kind, f["Name"]]
            wheres.append(f"{alias}.kind = ? AND {alias}.property = ? AND {self.condition(f, alias, list_name)}")
        return f"e.name IN (SELECT n0.name FROM {', '.join(tables)} WHERE {' AND '.join(wheres)})"

    def expression(self, expression: dict, depth: int = 0) -> str:
        if not isinstance(expression, dict):
            raise ValidationException("Invalid search expression: a SearchExpression must be an object.")
        if depth > 5:  # AWS nests SubExpressions at most 5 deep
            raise ValidationException("Invalid search expression: SubExpressions nest deeper than 5 levels.")
        parts = [self.filter(f) for f in expression.get("Filters", [])]
        parts += [self.nested(n) for n in expression.get("NestedFilters", [])]
        parts += [f"({self.expression(sub, depth + 1)})" for sub in expression.get("SubExpressions", [])]
        if not parts:
            return "1"
        joiner = " OR " if expression.get("Operator") == "Or" else " AND "
        return joiner.join(parts)


def search_names(store, resource: str, expression: dict, sort_by: str, sort_order: str) -> list[str]:
    """Names of the matching entities, in the order asked; the whole query runs in SQLite."""
    if resource not in RESOURCES:
        raise ValidationException(f"Unknown Search resource {resource}.")
    query = _Query(resource)
    where = query.expression(expression or {})
    name_property = RESOURCES[resource][2]
    if sort_by == "Name":
        sort_by = name_property
    property_type(resource, sort_by)
    direction = "DESC" if sort_order == "Descending" else "ASC"
    sql = (
        "SELECT e.name FROM entities e "
        "LEFT JOIN (SELECT name, MIN(num) AS n, MIN(str) AS s FROM facts WHERE kind = ? AND property = ? "
        "GROUP BY name) k ON k.name = e.name "
        f"WHERE e.kind = ? AND ({where}) "
        f"ORDER BY (k.n IS NULL AND k.s IS NULL), k.n {direction}, k.s {direction}, e.created {direction}, e.name"
    )
    return [row[0] for row in store.select(sql, [query.kind, sort_by, query.kind, *query.args])]
