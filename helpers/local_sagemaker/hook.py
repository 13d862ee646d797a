"""Routes botocore requests of one boto3 Session to the stand-in, on that session's before-send event.

boto3 still serializes, validates and parses every call; only the HTTP exchange is answered here.
"""

from __future__ import annotations

import base64
import datetime
import io
import json
import threading
from xml.sax.saxutils import escape

from botocore.awsrequest import AWSResponse, HeadersDict

from .errors import LocalServiceError

JSON_PROTOCOLS = ("json", "rest-json")


class _RawBody(io.BytesIO):
    """What botocore reads a response body from (urllib3's stream() and read())."""

    def stream(self, amt=64 * 1024, **kwargs):
        chunk = self.read(amt)
        while chunk:
            yield chunk
            chunk = self.read(amt)


def make_response(url: str, status: int, headers: dict, body) -> AWSResponse:
    """body: bytes, or a file-like (read, stream) that an S3 object streams from disk through."""
    streamed = not isinstance(body, bytes | bytearray)
    merged = HeadersDict({"x-amzn-RequestId": "local"})
    if not streamed:
        merged["Content-Length"] = str(len(body))
    merged.update(headers)
    return AWSResponse(url, status, merged, body if streamed else _RawBody(body))


class RequestRouter:
    """Keeps each call's API params per thread (before-send only sees the wire request) and dispatches."""

    def __init__(self, backend):
        self.backend = backend
        self._calls = threading.local()

    def attach(self, events) -> None:
        """Register on one boto3 Session's emitter: clients created from it afterwards copy the hooks."""
        events.register("before-parameter-build", self._remember_call)
        events.register("before-send", self._answer)

    def _remember_call(self, params, model, **kwargs):
        self._calls.current = (model, dict(params))

    def _answer(self, request, event_name: str = "", **kwargs):
        model, params = getattr(self._calls, "current", (None, {}))
        service_id, operation = event_name.split(".")[1:3] if event_name.count(".") >= 2 else ("", "")
        if model is None or model.name != operation:
            # never guess: a request we cannot tie to its call fails loudly instead of going out
            raise RuntimeError(f"local SageMaker stand-in lost track of the call behind {event_name}")
        # the protocol botocore picked from the service's list: it serializes the request and parses errors
        protocol = getattr(model.service_model, "resolved_protocol", None) or model.service_model.metadata["protocol"]
        try:
            if protocol in JSON_PROTOCOLS:
                # what AWS sees: the serialized body (timestamps as epoch seconds), not the Python params
                params = json.loads(request.body) if request.body else {}
            status, headers, body = self.backend.dispatch(service_id, model, params, request)
        except LocalServiceError as error:
            status, headers, body = error_response(protocol, error, request.method)
        return make_response(request.url, status, headers, body)


def json_response(operation_model, output: dict) -> tuple[int, dict, bytes]:
    """A JSON-protocol answer holding only the members of the operation's output shape."""
    shape = operation_model.output_shape
    document = _to_wire(shape, output) if shape is not None else {}
    content_type = (
        "application/json"
        if operation_model.metadata["protocol"] == "rest-json"
        else "application/x-amz-json-1.1"
    )
    return 200, {"Content-Type": content_type}, json.dumps(document).encode()


def _to_wire(shape, value):
    kind = shape.type_name
    if kind == "structure":
        return {
            name: _to_wire(member, value[name])
            for name, member in shape.members.items()
            if value.get(name) is not None
        }
    if kind == "list":
        return [_to_wire(shape.member, item) for item in value]
    if kind == "map":
        return {key: _to_wire(shape.value, item) for key, item in value.items()}
    if kind == "timestamp" and isinstance(value, datetime.datetime):
        return value.timestamp()
    if kind == "blob" and isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def error_response(protocol: str, error: LocalServiceError, method: str) -> tuple[int, dict, bytes]:
    """The error as the service's protocol writes it, so botocore raises ClientError with its code."""
    if protocol in JSON_PROTOCOLS:
        body = json.dumps({"__type": error.code, "message": error.message}).encode()
        return error.status, {"x-amzn-ErrorType": error.code, "Content-Type": "application/x-amz-json-1.1"}, body
    if protocol == "smithy-rpc-v2-cbor":
        body = _cbor_text_map({"__type": error.code, "message": error.message})
        return error.status, {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor"}, body
    if method == "HEAD":  # S3 answers HEAD errors with a status and no body
        return error.status, {}, b""
    if protocol == "ec2":
        body = (f"<Response><Errors><Error><Code>{escape(error.code)}</Code><Message>{escape(error.message)}"
                "</Message></Error></Errors><RequestID>local</RequestID></Response>").encode()
        return error.status, {"Content-Type": "text/xml"}, body
    return error.status, {"Content-Type": "application/xml"}, _xml_error(protocol, error)


def _cbor_text_map(items: dict[str, str]) -> bytes:
    """A CBOR map of text strings (RFC 8949), all an error body needs."""

    def head(major: int, length: int) -> bytes:
        if length < 24:
            return bytes([major << 5 | length])
        for extra, size in ((24, 1), (25, 2), (26, 4)):
            if length < 256 ** size:
                return bytes([major << 5 | extra]) + length.to_bytes(size, "big")
        raise ValueError("text too long for an error body")

    out = bytearray(head(5, len(items)))
    for key, value in items.items():
        for text in (key, value):
            data = text.encode()
            out += head(3, len(data)) + data
    return bytes(out)


def _xml_error(protocol: str, error: LocalServiceError) -> bytes:
    from . import xml_wire  # late: maintained alongside the S3 backend

    body = xml_wire.error_body(error.code, error.message)
    if protocol == "query" and b"<ErrorResponse" not in body:
        # the query protocol (STS) wraps the <Error> element in an <ErrorResponse>
        head, _, rest = body.partition(b"<Error>")
        body = head + b"<ErrorResponse><Error>" + rest + b"<RequestId>local</RequestId></ErrorResponse>"
    return body
