"""S3 in the stand-in, through the real SDK and boto3: multipart artifacts, listing, errors, key safety."""

from __future__ import annotations

import os

import botocore.exceptions
import pytest

from helpers.experiments import ExperimentAnalytics, Run, local_backend

EXPERIMENT = "s3-exp"


def test_large_file_and_artifact_reach_the_run(local_session, tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(9 * 1024 * 1024))  # over 8 MB: upload_file goes multipart
    with Run(experiment_name=EXPERIMENT, run_name="files", sagemaker_session=local_session) as run:
        run.log_file(str(big), name="weights")
        run.log_artifact("dataset", "s3://some-bucket/data.csv", is_output=False)
    assert local_backend(local_session).request_counts["s3.UploadPart"] >= 2
    row = ExperimentAnalytics(experiment_name=EXPERIMENT, sagemaker_session=local_session).dataframe().iloc[0]
    assert row["dataset - Value"] == "s3://some-bucket/data.csv"
    bucket, key = row["weights - Value"][5:].split("/", 1)
    assert bucket == "sagemaker-us-east-1-123456789012"
    body = local_session.boto_session.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    assert body == big.read_bytes()


@pytest.mark.parametrize("key", ["../../etc/passwd", "/etc/passwd", "a/../../../b", "..", "x\u0000y", "dir/./file"])
def test_object_keys_never_leave_the_store(local_session, local_dir, tmp_path, key):
    s3 = local_session.boto_session.client("s3")
    bucket = local_session.default_bucket()
    before = set(tmp_path.rglob("*"))
    s3.put_object(Bucket=bucket, Key=key, Body=b"payload")
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"payload"
    created = set(tmp_path.rglob("*")) - before
    assert created and all(p.resolve().is_relative_to(local_dir.resolve()) for p in created)
    if "\x00" not in key:  # XML 1.0 cannot carry NUL; S3 itself needs EncodingType=url for it
        assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == [key]


def test_listing_metadata_and_errors(local_session):
    s3 = local_session.boto_session.client("s3")
    bucket = local_session.default_bucket()
    for i in range(7):
        s3.put_object(Bucket=bucket, Key=f"p/{i}.txt", Body=b"x", ContentType="text/plain", Metadata={"k": str(i)})
    s3.put_object(Bucket=bucket, Key="p/sub/deep.txt", Body=b"x")
    head = s3.head_object(Bucket=bucket, Key="p/3.txt")
    assert head["ContentType"] == "text/plain" and head["Metadata"] == {"k": "3"} and head["ContentLength"] == 1
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="p/", Delimiter="/", MaxKeys=3))
    keys = [o["Key"] for p in pages for o in p.get("Contents", [])]
    prefixes = [c["Prefix"] for p in pages for c in p.get("CommonPrefixes", [])]
    assert keys == [f"p/{i}.txt" for i in range(7)] and prefixes == ["p/sub/"]
    s3.delete_object(Bucket=bucket, Key="p/0.txt")
    assert "p/0.txt" not in [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket=bucket, Key="missing")
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        s3.head_object(Bucket=bucket, Key="missing")
    assert raised.value.response["Error"]["Code"] == "404"
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        s3.put_object(Bucket="no-such-bucket-here", Key="k", Body=b"x")
    assert raised.value.response["Error"]["Code"] == "NoSuchBucket"
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", ExpectedBucketOwner="999999999999")
    assert raised.value.response["Error"]["Code"] == "AccessDenied"
    identity = local_session.boto_session.client("sts").get_caller_identity()
    assert identity["Account"] == "123456789012"
