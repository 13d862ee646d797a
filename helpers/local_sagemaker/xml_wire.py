"""Writes rest-xml and query responses from botocore's output shapes, so boto3 parses them as AWS's."""

from __future__ import annotations

import datetime
from email.utils import formatdate
from xml.sax.saxutils import escape


def _iso(value) -> str:
    if isinstance(value, int | float):
        value = datetime.datetime.fromtimestamp(value, tz=datetime.UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _scalar(shape, value) -> str:
    if shape.type_name == "timestamp":
        return _iso(value)
    if shape.type_name == "boolean":
        return "true" if value else "false"
    return escape(str(value))


def _element(shape, name: str, value) -> str:
    if shape.type_name == "structure":
        return f"<{name}>{_members(shape, value)}</{name}>"
    if shape.type_name == "list":
        member = shape.member
        if shape.serialization.get("flattened"):
            item_name = shape.serialization.get("name", name)
            return "".join(_element(member, item_name, v) for v in value)
        item_name = member.serialization.get("name", "member")
        return f"<{name}>" + "".join(_element(member, item_name, v) for v in value) + f"</{name}>"
    return f"<{name}>{_scalar(shape, value)}</{name}>"


def _members(shape, value: dict) -> str:
    parts = []
    for member_name, member in shape.members.items():
        if member_name not in value or value[member_name] is None:
            continue
        if member.serialization.get("location"):
            continue
        name = member.serialization.get("name", member_name)
        if member.type_name == "list" and member.serialization.get("flattened"):
            parts.append("".join(_element(member.member, name, v) for v in value[member_name]))
        else:
            parts.append(_element(member, name, value[member_name]))
    return "".join(parts)


def _header_value(shape, value) -> str:
    if shape.type_name == "timestamp":
        if not isinstance(value, int | float):
            value = value.timestamp()
        return formatdate(value, usegmt=True)
    return str(value)


def rest_xml_response(operation_model, output: dict) -> tuple[dict, bytes]:
    """Headers and body for a rest-xml operation (S3)."""
    shape = operation_model.output_shape
    headers: dict[str, str] = {}
    if shape is None:
        return headers, b""
    for member_name, member in shape.members.items():
        value = output.get(member_name)
        location = member.serialization.get("location")
        if value is None:
            continue
        if location == "header":
            headers[member.serialization.get("name", member_name)] = _header_value(member, value)
        elif location == "headers":
            prefix = member.serialization.get("name", "")
            headers.update({f"{prefix}{k}": str(v) for k, v in value.items()})
    payload = shape.serialization.get("payload")
    if payload:
        body = output.get(payload, b"")
        return headers, body if isinstance(body, bytes) or hasattr(body, "read") else b""
    root = shape.serialization.get("name", operation_model.name + "Result")
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<{root}>{_members(shape, output)}</{root}>'
    return headers, body.encode()


def query_response(operation_model, output: dict) -> bytes:
    """Body for a query-protocol operation (STS)."""
    shape = operation_model.output_shape
    name = operation_model.name
    wrapper = shape.serialization.get("resultWrapper", f"{name}Result") if shape else f"{name}Result"
    inner = _members(shape, output) if shape else ""
    return (
        f'<{name}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        f"<{wrapper}>{inner}</{wrapper}>"
        "<ResponseMetadata><RequestId>local</RequestId></ResponseMetadata>"
        f"</{name}Response>"
    ).encode()


def error_body(code: str, message: str, wrapped: bool = False) -> bytes:
    """An S3 error document, or a query-protocol ErrorResponse when wrapped."""
    error = f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
    if wrapped:
        error = f"<ErrorResponse>{error}<RequestId>local</RequestId></ErrorResponse>"
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{error}'.encode()
