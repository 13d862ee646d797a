"""The stand-in's SQLite store as a careful database behaves: bounded waits, clear errors, deletes that free rows."""

from __future__ import annotations

import sqlite3
import time

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from helpers.experiments import open_session


def test_a_locked_store_answers_service_unavailable_naming_the_file_after_a_bounded_wait(tmp_path):
    session = open_session("local", local_dir=tmp_path)
    backend = session._local_sagemaker
    backend.store.busy_timeout_s = 0.2
    # one attempt: the wait measured is the stand-in's, not botocore's retries of it
    client = session.boto_session.client("sagemaker", config=Config(retries={"max_attempts": 1}))
    client.list_experiments()  # the store exists
    holder = sqlite3.connect(tmp_path / "sagemaker.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holding the write lock
    try:
        started = time.monotonic()
        with pytest.raises(ClientError) as caught:
            client.create_experiment(ExperimentName="blocked")
        waited = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
    error = caught.value.response["Error"]
    assert error["Code"] == "ServiceUnavailable"
    assert str(tmp_path / "sagemaker.db") in error["Message"] and "Retry" in error["Message"]
    assert 0.2 <= waited < 5  # the bounded wait, not a 30 s hang
    client.create_experiment(ExperimentName="blocked")  # free again: served


def test_a_damaged_store_answers_internal_failure_saying_what_to_do(tmp_path):
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "sagemaker.db").write_bytes(b"this is not a database" * 100)
    session = open_session("local", local_dir=tmp_path)
    client = session.boto_session.client("sagemaker", config=Config(retries={"max_attempts": 1}))
    with pytest.raises(ClientError) as caught:
        client.list_experiments()
    error = caught.value.response["Error"]
    assert error["Code"] == "InternalFailure"
    assert str(tmp_path / "sagemaker.db") in error["Message"] and "Move it aside" in error["Message"]


def test_a_symlinked_database_is_refused(tmp_path):
    (tmp_path / "elsewhere.db").write_bytes(b"")
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    (store_dir / "sagemaker.db").symlink_to(tmp_path / "elsewhere.db")
    session = open_session("local", local_dir=store_dir)
    with pytest.raises(ClientError) as caught:
        session.sagemaker_client.list_experiments()
    assert "symbolic link" in caught.value.response["Error"]["Message"]
    assert (tmp_path / "elsewhere.db").stat().st_size == 0


def test_a_deleted_component_is_not_served_and_its_rows_are_freed(local_session, local_backend):
    client = local_session.sagemaker_client
    client.create_trial_component(TrialComponentName="gone", Parameters={"p": {"NumberValue": 1}})
    local_session.boto_session.client("sagemaker-metrics").batch_put_metrics(
        TrialComponentName="gone", MetricData=[{"MetricName": "m", "Value": 1.0, "Timestamp": time.time()}])
    client.delete_trial_component(TrialComponentName="gone")
    with pytest.raises(client.exceptions.ResourceNotFound):
        client.describe_trial_component(TrialComponentName="gone")
    store = local_backend.store
    for table, column in [("entities", "name"), ("facts", "name"), ("metrics", "trial_component"),
                          ("metric_summaries", "trial_component")]:
        assert store.select(f"SELECT count(*) FROM {table} WHERE {column} = 'gone'") == [(0,)], table
    found = client.search(Resource="ExperimentTrialComponent",
                          SearchExpression={"Filters": [{"Name": "TrialComponentName", "Operator": "Equals",
                                                         "Value": "gone"}]})
    assert found["Results"] == []


def test_a_store_from_before_the_index_is_indexed_on_open(tmp_path):
    db = sqlite3.connect(tmp_path / "sagemaker.db")
    db.executescript("""
        CREATE TABLE entities (kind TEXT NOT NULL, name TEXT NOT NULL COLLATE NOCASE, created REAL NOT NULL,
            modified REAL NOT NULL, data TEXT NOT NULL, PRIMARY KEY (kind, name));
        CREATE TABLE metrics (trial_component TEXT NOT NULL COLLATE NOCASE, metric_name TEXT NOT NULL,
            value REAL NOT NULL, timestamp REAL NOT NULL, step INTEGER);
        INSERT INTO entities VALUES ('trial-component', 'old', 1, 1,
            '{"TrialComponentName": "old", "TrialComponentArn": "arn", "Parents": [], "CreationTime": 1,
              "LastModifiedTime": 1, "Parameters": {"t": {"NumberValue": 0.5}}}');
        INSERT INTO metrics VALUES ('old', 'acc', 0.9, 1, 0);
    """)
    db.close()
    client = open_session("local", local_dir=tmp_path).sagemaker_client
    found = client.search(Resource="ExperimentTrialComponent", SearchExpression={"Filters": [
        {"Name": "Metrics.acc.Max", "Operator": "GreaterThan", "Value": "0.8"},
        {"Name": "Parameters.t", "Operator": "Equals", "Value": "0.5"}]})
    assert [r["TrialComponent"]["TrialComponentName"] for r in found["Results"]] == ["old"]
