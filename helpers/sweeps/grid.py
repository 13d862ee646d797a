"""Sweep grids: a small YAML or TOML file, or name=v1,v2 pairs from the command line, expanded to points.

Every point gets a run name made from its parameters, checked before anything starts.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..evaluation.evaluator import RUN_NAME

_SAFE_VALUE = re.compile(r"^[A-Za-z0-9-]+$")
SHORT = {"scenario": "", "prompt": "", "temperature": "t", "model_name": "m", "llm_provider": "", "dataset": "d"}


class GridError(ValueError):
    """A grid that cannot run: names the parameter, the value and what to do."""


@dataclass(frozen=True)
class GridPoint:
    run_name: str
    parameters: dict[str, Any]


@dataclass
class Sweep:
    experiment_name: str
    grid: dict[str, list]
    fixed: dict[str, Any] = field(default_factory=dict)
    max_concurrency: int = 8
    limit: int | None = None

    def points(self) -> list[GridPoint]:
        return expand(self.grid, self.fixed)


def _name_part(key: str, value: Any) -> str:
    if isinstance(value, bool):
        text = str(value).lower()
    elif isinstance(value, int | float):
        text = f"{value:g}".replace(".", "-").replace("+", "")
    else:
        text = str(value)
    if not _SAFE_VALUE.match(text):
        raise GridError(f"Grid value {value!r} of {key!r} cannot be part of a SageMaker run name (letters, digits "
                        "and hyphens only; numbers are written 0-5 for 0.5). Rename the value, e.g. "
                        f"{re.sub(r'[^A-Za-z0-9-]+', '-', text).strip('-') or 'v1'!r}.")
    return SHORT.get(key, key.replace("_", "-") + "-") + text


def run_name_of(parameters: dict[str, Any], keys: list[str]) -> str:
    """e.g. {"prompt": "plain", "temperature": 0.5} -> "plain-t0-5"."""
    name = "-".join(_name_part(k, parameters[k]) for k in keys) or "point"
    if not RUN_NAME.match(name):
        raise GridError(f"Grid point {parameters} makes the run name {name!r}, which SageMaker refuses "
                        "(at most 120 characters, letters, digits and single hyphens).")
    return name


def expand(grid: dict[str, list], fixed: dict[str, Any] | None = None) -> list[GridPoint]:
    """Every combination of the grid's values, with fixed parameters added; names checked and unique."""
    if not grid:
        raise GridError("The grid is empty: give at least one parameter with a list of values.")
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise GridError(f"Grid parameter {key!r} needs a non-empty list of values; got {values!r}.")
    keys = list(grid)
    points, seen = [], {}
    for combo in itertools.product(*(grid[k] for k in keys)):
        parameters = {**(fixed or {}), **dict(zip(keys, combo, strict=True))}
        name = run_name_of(parameters, keys)
        if name in seen:
            raise GridError(f"Grid points {seen[name]} and {parameters} both make the run name {name!r}; "
                            "make the values differ in letters or digits.")
        seen[name] = parameters
        points.append(GridPoint(name, parameters))
    return points


def load_sweep(path: str | Path | None = None, overrides: list[str] | None = None,
               experiment_name: str | None = None) -> Sweep:
    """A Sweep from a YAML/TOML file and/or "name=v1,v2" overrides (which replace the file's values)."""
    spec: dict[str, Any] = {}
    if path:
        spec = _read(Path(path))
    grid = dict(spec.get("grid") or {})
    for item in overrides or []:
        key, sep, values = item.partition("=")
        if not sep or not key.strip():
            raise GridError(f"Command-line grid value {item!r} must look like name=v1,v2 (e.g. temperature=0,0.5).")
        grid[key.strip()] = [_parse_value(v) for v in values.split(",") if v.strip()]
    experiment = experiment_name or spec.get("experiment") or "langchain-eval-sweep"
    if not RUN_NAME.match(experiment):
        raise GridError(f"experiment {experiment!r} is not a valid SageMaker experiment name (letters, digits, hyphens).")
    return Sweep(experiment, grid, dict(spec.get("fixed") or {}), int(spec.get("max_concurrency", 8)),
                 spec.get("limit"))


def _read(path: Path) -> dict:
    if not path.is_file():
        raise GridError(f"Grid file {path} does not exist.")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".toml":
            import tomllib

            data = tomllib.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as error:
        raise GridError(f"Grid file {path} does not parse: {error}") from None
    if not isinstance(data, dict):
        raise GridError(f"Grid file {path} must hold a mapping with a 'grid' table.")
    unknown = set(data) - {"experiment", "grid", "fixed", "max_concurrency", "limit"}
    if unknown:
        raise GridError(f"Grid file {path} has unknown key(s) {sorted(unknown)}; "
                        "use experiment, grid, fixed, max_concurrency, limit.")
    return data


def _parse_value(text: str) -> Any:
    text = text.strip()
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text
