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


@pytest.fixture(scope="module")
def s3_client(tmp_path_factory):
    from helpers.experiments import open_session

    return open_session("local", local_dir=tmp_path_factory.mktemp("s3")).boto_session.client("s3")


@pytest.mark.parametrize("bucket", [
    "ab", "a" * 64, "Upper-case", "under_score", "-starts-with-hyphen", "ends-with-hyphen-", "two..periods",
    "period.-hyphen", "192.168.5.4", "xn--punycode", "sthree-bucket", "amzn-s3-demo-bucket", "name-s3alias",
    "name--ol-s3", "name.mrap", "name--x-s3", "name--table-s3",
])
def test_bucket_names_s3_refuses_are_invalid_bucket_name(s3_client, bucket):
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        s3_client.create_bucket(Bucket=bucket)
    assert raised.value.response["Error"]["Code"] == "InvalidBucketName"


@pytest.mark.parametrize("bucket", ["abc", "my.bucket.name", "a" * 63, "bucket-1-2"])
def test_bucket_names_s3_accepts_are_created(s3_client, bucket):
    s3_client.create_bucket(Bucket=bucket)
    s3_client.head_bucket(Bucket=bucket)


def test_key_and_metadata_limits_answer_s3_s_codes(local_session):
    s3 = local_session.boto_session.client("s3")
    bucket = local_session.default_bucket()
    s3.put_object(Bucket=bucket, Key="é" * 512, Body=b"x")  # 1,024 bytes in UTF-8: the limit itself
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        s3.put_object(Bucket=bucket, Key="é" * 512 + "x", Body=b"x")
    assert raised.value.response["Error"]["Code"] == "KeyTooLongError"
    s3.put_object(Bucket=bucket, Key="meta-ok", Body=b"x", Metadata={"k": "v" * 2047})
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        s3.put_object(Bucket=bucket, Key="meta", Body=b"x", Metadata={"k": "v" * 2048})
    assert raised.value.response["Error"]["Code"] == "MetadataTooLarge"


def test_ranges_are_read_from_disk(local_session):
    s3 = local_session.boto_session.client("s3")
    bucket = local_session.default_bucket()
    s3.put_object(Bucket=bucket, Key="r", Body=b"0123456789")
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=2-4")["Body"].read() == b"234"
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=-3")["Body"].read() == b"789"
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=7-")["Body"].read() == b"789"
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        s3.get_object(Bucket=bucket, Key="r", Range="bytes=20-30")
    assert raised.value.response["Error"]["Code"] == "InvalidRange"


def test_a_planted_symlink_is_refused_not_followed(local_session, local_dir, tmp_path):
    s3 = local_session.boto_session.client("s3")
    bucket = local_session.default_bucket()
    s3.put_object(Bucket=bucket, Key="first", Body=b"x")
    outside = tmp_path / "outside"
    outside.mkdir()
    objects = local_dir / "objects" / bucket / "objects"
    for folder in objects.iterdir():  # every hashed sub-folder now points outside the store
        folder.rename(folder.with_name(folder.name + ".moved"))
    for prefix in {f"{i:02x}" for i in range(256)}:
        (objects / prefix).symlink_to(outside, target_is_directory=True)
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        s3.put_object(Bucket=bucket, Key="second", Body=b"secret")
    assert raised.value.response["Error"]["Code"] == "AccessDenied"
    assert "symbolic link" in raised.value.response["Error"]["Message"]
    assert list(outside.iterdir()) == []


_STREAM_DRILL = """
import os, sys, resource
from helpers.experiments import open_session
session = open_session("local", local_dir=sys.argv[1])
s3 = session.boto_session.client("s3")
bucket = session.default_bucket()
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
s3.upload_file(sys.argv[2], bucket, "big")
s3.download_file(bucket, "big", sys.argv[3])
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) // 1024)
"""


@pytest.mark.drills
def test_a_1_gb_object_streams_with_flat_memory(tmp_path):
    import subprocess
    import sys

    source, copy = tmp_path / "source.bin", tmp_path / "copy.bin"
    with open(source, "wb") as handle:
        for _ in range(1024):
            handle.write(os.urandom(1024 * 1024))
    proc = subprocess.run([sys.executable, "-c", _STREAM_DRILL, str(tmp_path / "store"), str(source), str(copy)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    extra_mb = int(proc.stdout.split()[-1])
    assert copy.stat().st_size == source.stat().st_size
    assert extra_mb < 300, f"peak RSS grew by {extra_mb} MB for a 1 GB object"


def test_a_bucket_folder_planted_as_a_symlink_is_refused(local_session, local_dir, tmp_path):
    s3 = local_session.boto_session.client("s3")
    local_session.default_bucket()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (local_dir / "objects" / "planted-bucket").symlink_to(outside, target_is_directory=True)
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        s3.put_object(Bucket="planted-bucket", Key="k", Body=b"secret")
    assert raised.value.response["Error"]["Code"] == "AccessDenied"
    assert list(outside.iterdir()) == []
