"""The S3 operations the SageMaker SDK uses for artifacts, over an ObjectFolder."""

from __future__ import annotations

import hashlib
import io
import re
import threading
import time
import uuid
from pathlib import Path

from . import xml_wire
from .errors import LocalServiceError
from .objects import ObjectFolder, UnsafeStorePath, file_chunks

_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]*[a-z0-9]")
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


CHUNK = 1024 * 1024


def body_chunks(request):
    """The request body a chunk at a time, decoding botocore's aws-chunked streaming encoding."""
    body = request.body
    if body is None:
        return
    encoding = request.headers.get("Content-Encoding") or ""
    if isinstance(encoding, bytes):
        encoding = encoding.decode()
    if isinstance(body, str):
        body = body.encode()
    reader = io.BytesIO(body) if isinstance(body, bytes | bytearray) else body
    if "aws-chunked" in encoding:
        yield from _decode_aws_chunked(reader)
        return
    while chunk := reader.read(CHUNK):
        yield bytes(chunk)


def _decode_aws_chunked(reader):
    buffer = bytearray()

    def fill(size: int) -> None:
        while len(buffer) < size:
            data = reader.read(max(CHUNK, size - len(buffer)))
            if not data:
                raise LocalServiceError("IncompleteBody", "The request body ended inside an aws-chunked chunk.", 400)
            buffer.extend(data)

    while True:
        while b"\r\n" not in buffer:
            fill(len(buffer) + 1)
        end = buffer.index(b"\r\n")
        size = int(bytes(buffer[:end]).split(b";")[0], 16)
        del buffer[: end + 2]
        if size == 0:
            return
        fill(size + 2)
        yield bytes(buffer[:size])
        del buffer[: size + 2]


class _Slice:
    """A byte range of an open file as a response body botocore reads (read, stream), closed when done."""

    def __init__(self, handle, start: int, length: int):
        handle.seek(start)
        self._handle, self._left = handle, length

    def read(self, amt=None):
        if self._left <= 0:
            self._handle.close()
            return b""
        data = self._handle.read(self._left if amt is None else min(amt, self._left))
        self._left -= len(data)
        if not data:
            self._left = 0
        return data

    def stream(self, amt=64 * 1024, **kwargs):
        while chunk := self.read(amt):
            yield chunk

    def close(self):
        self._handle.close()


def _metadata_size(metadata: dict) -> int:
    return sum(len(k.encode()) + len(str(v).encode()) for k, v in metadata.items())


def bucket_name_problem(bucket: str) -> str | None:
    """Why S3 would refuse this bucket name (its general-purpose naming rules), or None."""
    if not 3 <= len(bucket) <= 63:
        return "must be between 3 and 63 characters long"
    if not _BUCKET_NAME.fullmatch(bucket):
        return "may hold only lower-case letters, digits, dots and hyphens, and begin and end with a letter or digit"
    if ".." in bucket or ".-" in bucket or "-." in bucket:
        return "must not hold two adjacent periods, or a period next to a hyphen"
    if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", bucket):
        return "must not be formatted as an IP address"
    if bucket.startswith(_RESERVED_PREFIXES) or bucket.endswith(_RESERVED_SUFFIXES):
        return "uses a prefix or suffix S3 reserves"
    return None


_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
MAX_KEY_BYTES = 1024
MAX_METADATA_BYTES = 2 * 1024


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
        if len(params.get("Key", "").encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
            raise LocalServiceError("KeyTooLongError", "Your key is too long", 400)
        if _metadata_size(params.get("Metadata") or {}) > MAX_METADATA_BYTES:
            raise LocalServiceError(
                "MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size", 400)
        try:
            if "Bucket" in params and name not in ("CreateBucket",):
                self._require_bucket(params["Bucket"], head=name == "HeadBucket")
            status, output = handler(params, request)
        except UnsafeStorePath as error:
            raise LocalServiceError("AccessDenied", f"Access Denied: {error}", 403) from error
        headers, body = xml_wire.rest_xml_response(operation_model, output)
        return status, headers, body

    def _require_bucket(self, bucket: str, head: bool = False) -> None:
        if bucket_name_problem(bucket) or not self.folder.bucket_exists(bucket):
            raise LocalServiceError("NoSuchBucket", "The specified bucket does not exist", 404)

    # Buckets

    def ListBuckets(self, params, request):
        buckets = [{"Name": n, "CreationDate": t} for n, t in self.folder.buckets()]
        return 200, {"Buckets": buckets, "Owner": {"ID": self.account_id}}

    def HeadBucket(self, params, request):
        return 200, {"BucketRegion": self.region}

    def CreateBucket(self, params, request):
        bucket = params["Bucket"]
        problem = bucket_name_problem(bucket)
        if problem:
            raise LocalServiceError("InvalidBucketName", f"The specified bucket is not valid: it {problem}.", 400)
        if not self.folder.create_bucket(bucket):
            raise LocalServiceError(
                "BucketAlreadyOwnedByYou",
                "Your previous request to create the named bucket succeeded and you already own it.",
                409,
            )
        return 200, {"Location": f"/{bucket}"}

    # Objects

    def _store(self, params, chunks, etag: str | None = None) -> dict:
        meta = {
            "ContentType": params.get("ContentType", "binary/octet-stream"),
            "LastModified": time.time(),
            "Metadata": params.get("Metadata", {}),
            **({"ETag": etag} if etag else {}),
        }
        return self.folder.put(params["Bucket"], params["Key"], chunks, meta)

    def PutObject(self, params, request):
        meta = self._store(params, body_chunks(request))
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
        found = self.folder.open(params["Bucket"], params["Key"])  # streamed from disk, never read whole
        if found is None:
            raise LocalServiceError("NoSuchKey", "The specified key does not exist.", 404)
        handle, meta = found
        size = meta["ContentLength"]
        output = {k: meta[k] for k in ("ETag", "ContentType", "LastModified", "Metadata")}
        status, start, length = 200, 0, size
        match = _RANGE.fullmatch(params.get("Range", "") or "")
        if match and size:
            if match[1]:
                start = int(match[1])
                end = min(int(match[2]), size - 1) if match[2] else size - 1
            else:  # bytes=-N: the last N bytes
                start, end = max(size - int(match[2] or 0), 0), size - 1
            if start >= size:
                handle.close()
                raise LocalServiceError("InvalidRange", "The requested range is not satisfiable", 416)
            output["ContentRange"] = f"bytes {start}-{end}/{size}"
            status, length = 206, end - start + 1
        output.update(Body=_Slice(handle, start, length), ContentLength=length)
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
        return self.folder.check(self.folder.scratch_dir() / upload_id)

    def CreateMultipartUpload(self, params, request):
        upload_id = uuid.uuid4().hex
        self._upload_dir(upload_id).mkdir()
        return 200, {"Bucket": params["Bucket"], "Key": params["Key"], "UploadId": upload_id}

    def UploadPart(self, params, request):
        directory = self._upload_dir(params["UploadId"])
        if not directory.is_dir():
            raise LocalServiceError("NoSuchUpload", "The specified upload does not exist.", 404)
        part = directory / f"{int(params['PartNumber']):05d}"
        digest = hashlib.md5()
        with open(part, "wb") as handle:
            for chunk in body_chunks(request):
                handle.write(chunk)
                digest.update(chunk)
        part.with_suffix(".md5").write_text(digest.hexdigest())
        return 200, {"ETag": f'"{digest.hexdigest()}"'}

    def CompleteMultipartUpload(self, params, request):
        directory = self._upload_dir(params["UploadId"])
        if not directory.is_dir():
            raise LocalServiceError("NoSuchUpload", "The specified upload does not exist.", 404)
        parts = params.get("MultipartUpload", {}).get("Parts", [])
        paths = [directory / f"{int(p['PartNumber']):05d}" for p in parts]
        missing = [p.name for p in paths if not p.is_file()]
        if missing:
            raise LocalServiceError("InvalidPart", "One or more of the specified parts could not be found.", 400)
        digests = b"".join(bytes.fromhex(p.with_suffix(".md5").read_text()) for p in paths)
        etag = f'"{hashlib.md5(digests).hexdigest()}-{len(paths)}"'
        self._store(params, file_chunks(paths), etag)
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
