"""Datasets for evaluate(): JSONL or CSV paths, DataFrames or lists of dicts, read one row at a time.

Bundled datasets (helpers/data/*.jsonl) are named by their stem: load_rows("joke_topics").
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any


class DatasetError(ValueError):
    """A dataset that cannot be evaluated, naming the row and the field, and what to do."""


def bundled(name: str) -> Path | None:
    path = Path(str(resources.files("helpers.data").joinpath(f"{name}.jsonl")))
    return path if path.is_file() else None


def bundled_names() -> list[str]:
    return sorted(p.name[:-6] for p in resources.files("helpers.data").iterdir() if p.name.endswith(".jsonl"))


def _path_of(data: Any) -> Path | None:
    if isinstance(data, str | Path):
        path = Path(data)
        if path.suffix in (".jsonl", ".csv", ".json") or path.exists():
            if not path.is_file():
                raise DatasetError(f"Dataset file {path} does not exist.")
            return path
        found = bundled(str(data))
        if found is None:
            raise DatasetError(f"No dataset file or bundled dataset named {data!r}; bundled: "
                               f"{', '.join(bundled_names())}.")
        return found
    return None


def dataset_name(data: Any) -> str:
    path = _path_of(data)
    if path is not None:
        return path.stem
    return type(data).__name__


def iter_rows(data: Any) -> Iterator[dict]:
    """The rows as dicts, streamed from files (a 100,000-row JSONL file is never held in memory)."""
    path = _path_of(data)
    if path is not None:
        if path.suffix == ".csv":
            with open(path, newline="", encoding="utf-8") as handle:
                yield from csv.DictReader(handle)
            return
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except ValueError as error:
                    raise DatasetError(f"{path} line {number} is not JSON ({error}); fix or remove it.") from None
                if not isinstance(row, dict):
                    raise DatasetError(f"{path} line {number} is not a JSON object: {line[:80]!r}.")
                yield row
        return
    if hasattr(data, "to_dict") and hasattr(data, "columns"):  # a pandas DataFrame
        for record in data.itertuples(index=False, name=None):
            yield dict(zip(data.columns, record, strict=True))
        return
    if isinstance(data, list | tuple):
        for index, row in enumerate(data):
            if not isinstance(row, dict):
                raise DatasetError(f"Row {index} is a {type(row).__name__}, not a dict of fields.")
            yield row
        return
    raise DatasetError(f"data must be a JSONL/CSV path, a bundled dataset name, a DataFrame or a list of dicts; "
                       f"got {type(data).__name__}.")


def split_row(row: dict, expected_key: str) -> tuple[dict, Any]:
    """(the target's inputs, the reference answer or None)."""
    inputs = {k: v for k, v in row.items() if k != expected_key}
    return inputs, row.get(expected_key)


def check_rows(data: Any, required: list[str], expected_key: str, needs_expected: bool) -> int:
    """Read every row once before anything runs; raise naming the first bad row. Returns the row count."""
    count = 0
    for index, row in enumerate(iter_rows(data)):
        count += 1
        missing = [f for f in required if f not in row or row[f] is None]
        if missing:
            raise DatasetError(f"Row {index} lacks the field {missing[0]!r} that the target's prompt needs "
                               f"(row fields: {sorted(row)}). Add it to every row, or rename a column.")
        if needs_expected and row.get(expected_key) is None:
            raise DatasetError(f"Row {index} has no {expected_key!r} value, which the scorers compare with. "
                               f"Add it, or pass expected_key= naming the reference column.")
    if count == 0:
        raise DatasetError("The dataset has no rows.")
    return count
