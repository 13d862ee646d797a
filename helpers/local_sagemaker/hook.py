"""Routes botocore requests of one boto3 Session to the local backends, on the before-send event.

boto3 still serializes, validates and parses every call; only the HTTP exchange is answered here.
"""

from __future__ import annotations

import io
import json
import threading

from botocore.awsrequest import AWSResponse, HeadersDict

from .errors import LocalServiceError


class _RawBody(io.BytesIO):
    """What botocore reads a response body from."""

    def stream(self, **kwargs):
        chunk = self.read()
        while chunk:
            yield chunk
            chunk = self.read()


def make_response(url: str, status: int, headers: dict, body: bytes) -> AWSResponse:
    merged = HeadersDict({"x-amzn-RequestId": "local", "Content-Length": str(len(body))})
    merged.update(headers)
    return AWSResponse(url, status, merged, _RawBody(body))


class RequestRouter:
    """Keeps the caller's params per thread (before-send only sees the wire request) and dispatches."""

    def __init__(self, backend):
        self.backend = backend
        self._local = threading.local()

    def attach(self, events) -> None:
        events.register("before-parameter-build", self._remember_call)
        events.register("before-send", self._answer)

    def _remember_call(self, params, model, **kwargs):
        self._local.call = (model, dict(params))

    def _answer(self, request, **kwargs):
        model, params = self._local.call
        service = model.service_model
        protocol = service.metadata["protocol"]
        try:
            if protocol in ("json", "rest-json"):
                params = json.loads(request.body or b"{}") if request.body else {}
            status, headers, body = self.backend.dispatch(service.service_id.hyphenize(), model, params, request)
        except LocalServiceError as error:
            status, headers, body = _error_response(protocol, error, request.method)
        return make_response(request.url, status, headers, body)


def _xml_wire():
    from . import xml_wire  # late: maintained alongside the S3 backend

    return xml_wire


def _error_response(protocol: str, error: LocalServiceError, method: str):
    if protocol in ("json", "rest-json"):
        body = json.dumps({"__type": error.code, "message": error.message}).encode()
        return error.status, {"x-amzn-ErrorType": error.code, "Content-Type": "application/x-amz-json-1.1"}, body
    if method == "HEAD":
        return error.status, {}, b""
    return error.status, {"Content-Type": "application/xml"}, _xml_error(protocol, error)


def _xml_error(protocol: str, error: LocalServiceError) -> bytes:
    body = _xml_wire().error_body(error.code, error.message)
    if protocol == "query" and b"<ErrorResponse>" not in body:
        # the query protocol (STS) wraps the <Error> element in an <ErrorResponse>
        head, _, rest = body.partition(b"<Error>")
        body = head + b"<ErrorResponse><Error>" + rest + b"<RequestId>local</RequestId></ErrorResponse>"
    return body
