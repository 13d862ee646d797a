"""The S3 operations the SageMaker SDK uses for artifacts, over an ObjectFolder."""

from __future__ import annotations

import hashlib
import re
import threading
import time
import uuid
from pathlib import Path

from . import xml_wire
from .errors import LocalServiceError
from .objects import ObjectFolder

_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def read_body(request) -> bytes:
    """The request body as bytes, decoding botocore's aws-chunked streaming encoding."""
    body = request.body
    if body is None:
        return b""
    if hasattr(body, "read"):
        body = body.read()
    if isinstance(body, str):
        body = body.encode()
    encoding = request.headers.get("Content-Encoding") or ""
    if isinstance(encoding, bytes):
        encoding = encoding.decode()
    if "aws-chunked" in encoding:
        body = _decode_aws_chunked(body)
    return bytes(body)


def _decode_aws_chunked(raw: bytes) -> bytes:
    out, pos = bytearray(), 0
    while True:
        end = raw.index(b"\r\n", pos)
        size = int(raw[pos:end].split(b";")[0], 16)
        pos = end + 2
        if size == 0:
            return bytes(out)
        out += raw[pos : pos + size]
        pos += size + 2


class S3Backend:
    """Buckets and objects in a folder; multipart parts in a scratch folder until completed."""

    def __init__(self, objects_dir: Path, account_id: str, region: str):
        self.folder = ObjectFolder(objects_dir)
        self.account_id = account_id
        self.region = region
        self._lock = threading.Lock()

    def handle(self, operation_model, params: dict, request) -> tuple[int, dict, bytes]:
        name = operation_model.name
        handler = getattr(self, name, None)
        if handler is None:
            raise LocalServiceError(
                "NotImplemented",
                f"The local SageMaker stand-in does not implement s3.{name}. "
                "Use the aws backend (SAGEMAKER_BACKEND=aws) for this call.",
                501,
            )
        owner = params.get("ExpectedBucketOwner")
        if owner and owner != self.account_id:
            raise LocalServiceError("AccessDenied", "Access Denied", 403)
        if "Bucket" in params and name not in ("CreateBucket",):
            self._require_bucket(params["Bucket"], head=name == "HeadBucket")
        status, output = handler(params, request)
        headers, body = xml_wire.rest_xml_response(operation_model, output)
        return status, headers, body

    def _require_bucket(self, bucket: str, head: bool = False) -> None:
        if not _BUCKET_NAME.fullmatch(bucket) or not self.folder.bucket_exists(bucket):
            raise LocalServiceError("NoSuchBucket", "The specified bucket does not exist", 404)

    # Buckets

    def ListBuckets(self, params, request):
        buckets = [{"Name": n, "CreationDate": t} for n, t in self.folder.buckets()]
        return 200, {"Buckets": buckets, "Owner": {"ID": self.account_id}}

    def HeadBucket(self, params, request):
        return 200, {"BucketRegion": self.region}

    def CreateBucket(self, params, request):
        bucket = params["Bucket"]
        if not _BUCKET_NAME.fullmatch(bucket) or ".." in bucket:
            raise LocalServiceError("InvalidBucketName", "The specified bucket is not valid.", 400)
        if not self.folder.create_bucket(bucket):
            raise LocalServiceError(
                "BucketAlreadyOwnedByYou",
                "Your previous request to create the named bucket succeeded and you already own it.",
                409,
            )
        return 200, {"Location": f"/{bucket}"}

    # Objects

    def _store(self, params, body: bytes, etag: str) -> dict:
        meta = {
            "ETag": etag,
            "ContentLength": len(body),
            "ContentType": params.get("ContentType", "binary/octet-stream"),
            "LastModified": time.time(),
            "Metadata": params.get("Metadata", {}),
        }
        self.folder.put(params["Bucket"], params["Key"], body, meta)
        return meta

    def PutObject(self, params, request):
        body = read_body(request)
        meta = self._store(params, body, f'"{hashlib.md5(body).hexdigest()}"')
        return 200, {"ETag": meta["ETag"]}

    def _meta_or_404(self, params, head: bool) -> dict:
        meta = self.folder.head(params["Bucket"], params["Key"])
        if meta is None:
            if head:
                raise LocalServiceError("404", "Not Found", 404)
            raise LocalServiceError("NoSuchKey", "The specified key does not exist.", 404)
        return meta

    def HeadObject(self, params, request):
        meta = self._meta_or_404(params, head=True)
        return 200, {k: meta[k] for k in ("ETag", "ContentLength", "ContentType", "LastModified", "Metadata")}

    def GetObject(self, params, request):
        found = self.folder.get(params["Bucket"], params["Key"])  # one read of the sidecar, not two
        if found is None:
            raise LocalServiceError("NoSuchKey", "The specified key does not exist.", 404)
        body, meta = found
        output = {k: meta[k] for k in ("ETag", "ContentType", "LastModified", "Metadata")}
        status = 200
        match = _RANGE.fullmatch(params.get("Range", "") or "")
        if match:
            start = int(match[1] or 0)
            end = int(match[2]) if match[2] else len(body) - 1
            output["ContentRange"] = f"bytes {start}-{min(end, len(body) - 1)}/{len(body)}"
            body, status = body[start : end + 1], 206
        output.update(Body=body, ContentLength=len(body))
        return status, output

    def DeleteObject(self, params, request):
        self.folder.delete(params["Bucket"], params["Key"])
        return 204, {}

    def ListObjectsV2(self, params, request):
        prefix = params.get("Prefix", "")
        delimiter = params.get("Delimiter")
        max_keys = params.get("MaxKeys", 1000)
        start_after = params.get("ContinuationToken") or params.get("StartAfter") or ""
        contents, prefixes = [], []
        truncated, last = False, None
        for meta in self.folder.list(params["Bucket"]):
            key = meta["Key"]
            if not key.startswith(prefix) or key <= start_after:
                continue
            if delimiter and delimiter in key[len(prefix) :]:
                common = key[: key.index(delimiter, len(prefix)) + len(delimiter)]
                if common not in prefixes:
                    if len(contents) + len(prefixes) >= max_keys:
                        truncated = True
                        break
                    prefixes.append(common)
                    last = key
                continue
            if len(contents) + len(prefixes) >= max_keys:
                truncated = True
                break
            contents.append(
                {"Key": key, "ETag": meta["ETag"], "Size": meta["ContentLength"],
                 "LastModified": meta["LastModified"], "StorageClass": "STANDARD"}
            )
            last = key
        output = {
            "Name": params["Bucket"], "Prefix": prefix, "KeyCount": len(contents) + len(prefixes),
            "MaxKeys": max_keys, "IsTruncated": truncated, "Contents": contents or None,
            "CommonPrefixes": [{"Prefix": p} for p in prefixes] or None,
        }
        if truncated:
            output["NextContinuationToken"] = last
        return 200, output

    # Multipart uploads, as upload_file makes them for files over 8 MB

    def _upload_dir(self, upload_id: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{32}", upload_id or ""):
            raise LocalServiceError("NoSuchUpload", "The specified upload does not exist.", 404)
        return self.folder.scratch_dir() / upload_id

    def CreateMultipartUpload(self, params, request):
        upload_id = uuid.uuid4().hex
        self._upload_dir(upload_id).mkdir()
        return 200, {"Bucket": params["Bucket"], "Key": params["Key"], "UploadId": upload_id}

    def UploadPart(self, params, request):
        directory = self._upload_dir(params["UploadId"])
        if not directory.is_dir():
            raise LocalServiceError("NoSuchUpload", "The specified upload does not exist.", 404)
        body = read_body(request)
        (directory / f"{int(params['PartNumber']):05d}").write_bytes(body)
        return 200, {"ETag": f'"{hashlib.md5(body).hexdigest()}"'}

    def CompleteMultipartUpload(self, params, request):
        directory = self._upload_dir(params["UploadId"])
        if not directory.is_dir():
            raise LocalServiceError("NoSuchUpload", "The specified upload does not exist.", 404)
        parts = params.get("MultipartUpload", {}).get("Parts", [])
        chunks = [(directory / f"{int(p['PartNumber']):05d}").read_bytes() for p in parts]
        digests = b"".join(hashlib.md5(c).digest() for c in chunks)
        etag = f'"{hashlib.md5(digests).hexdigest()}-{len(chunks)}"'
        self._store(params, b"".join(chunks), etag)
        for part in directory.iterdir():
            part.unlink()
        directory.rmdir()
        return 200, {"Bucket": params["Bucket"], "Key": params["Key"], "ETag": etag}

    def AbortMultipartUpload(self, params, request):
        directory = self._upload_dir(params["UploadId"])
        if directory.is_dir():
            for part in directory.iterdir():
                part.unlink()
            directory.rmdir()
        return 204, {}


class StsBackend:
    """GetCallerIdentity for a fixed local account."""

    def __init__(self, account_id: str):
        self.account_id = account_id

    def handle(self, operation_model, params: dict, request) -> tuple[int, dict, bytes]:
        if operation_model.name != "GetCallerIdentity":
            raise LocalServiceError(
                "UnsupportedOperation",
                f"The local SageMaker stand-in does not implement sts.{operation_model.name}.",
                501,
            )
        output = {
            "UserId": "LOCALUSER",
            "Account": self.account_id,
            "Arn": f"arn:aws:iam::{self.account_id}:user/local",
        }
        return 200, {"Content-Type": "text/xml"}, xml_wire.query_response(operation_model, output)
