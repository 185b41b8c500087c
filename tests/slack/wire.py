"""Decode requests the way Slack's Web API reads them: query string, form, JSON or multipart bodies."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qsl

__all__ = ["bearer_token", "decode_params", "read_body", "upload_content"]

# Arguments that clients send as JSON text inside a form field (slack_sdk does so for these).
JSON_FIELDS = frozenset({"blocks", "attachments", "view", "files", "metadata", "user_auth_blocks", "outputs"})
# Arguments that Slack takes as comma-separated lists.
LIST_FIELDS = frozenset({"users", "channels", "types", "file_ids"})


class Readable(Protocol):
    def read(self, size: int, /) -> bytes: ...
    def readline(self) -> bytes: ...


def _header(headers: Mapping[str, str], name: str) -> str:
    """Look a header up without regard to case, as HTTP requires."""
    return next((value for key, value in headers.items() if key.lower() == name.lower()), "")


def read_body(stream: Readable, headers: Mapping[str, str]) -> bytes:
    """Read a request body of a known Content-Length or in chunked transfer encoding."""
    if _header(headers, "Transfer-Encoding").lower() == "chunked":
        return _read_chunked(stream)

    length = int(_header(headers, "Content-Length") or 0)
    return stream.read(length) if length > 0 else b""


def _read_chunked(stream: Readable) -> bytes:
    body = bytearray()
    while True:
        size_line = stream.readline().split(b";", 1)[0].strip()
        size = int(size_line, 16)
        if size == 0:
            break
        body += stream.read(size)
        stream.readline()

    # Skip the optional trailer section up to its closing blank line.
    while stream.readline() not in (b"\r\n", b"\n", b""):
        pass
    return bytes(body)


def decode_params(content_type: str, body: bytes, query: str) -> dict[str, Any]:
    """Merge query-string and body arguments into Python values; body arguments win.

    Raises ValueError when a JSON body is not a JSON object.
    """
    params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    media_type = content_type.split(";", 1)[0].strip().lower()

    if media_type == "application/json":
        decoded = json.loads(body or b"{}")
        if not isinstance(decoded, dict):
            raise ValueError("a JSON request body must be an object")
        params.update(decoded)
    elif media_type == "multipart/form-data":
        params.update(_multipart_fields(content_type, body))
    elif body:
        params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))

    return {name: _decode_value(name, value) for name, value in params.items()}


def _decode_value(name: str, value: Any) -> Any:
    if name in JSON_FIELDS and isinstance(value, str) and value.strip()[:1] in ("[", "{"):
        return json.loads(value)
    # calls.add sends `users` as a JSON list, so JSON text is decoded before the comma split.
    if name in LIST_FIELDS and isinstance(value, str):
        if value.strip().startswith("["):
            return json.loads(value)
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


@dataclass(frozen=True)
class Part:
    """One part of a multipart/form-data body."""

    name: str | None
    filename: str | None
    content: bytes


def _multipart_parts(content_type: str, body: bytes) -> list[Part]:
    boundary = _header_param(content_type, "boundary")
    if not boundary:
        return []

    parts: list[Part] = []
    delimiter = b"\r\n--" + boundary.encode("ascii")
    # Each delimiter follows a CRLF, except at the very start of the body, hence the CRLF put in front.
    for chunk in (b"\r\n" + body).split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, content = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        disposition = ""
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, _, value = line.partition(":")
            if key.strip().lower() == "content-disposition":
                disposition = value
        parts.append(Part(_header_param(disposition, "name"), _header_param(disposition, "filename"), content))
    return parts


def _header_param(header: str, name: str) -> str | None:
    for item in header.split(";")[1:]:
        key, _, value = item.strip().partition("=")
        if key.strip().lower() == name:
            return value.strip().strip('"')
    return None


def _multipart_fields(content_type: str, body: bytes) -> dict[str, str]:
    return {
        part.name: part.content.decode("utf-8")
        for part in _multipart_parts(content_type, body)
        if part.name is not None and part.filename is None
    }


def upload_content(content_type: str, body: bytes) -> bytes:
    """Return the file bytes of an upload: the first file part of a multipart body, else the raw body."""
    if content_type.split(";", 1)[0].strip().lower() != "multipart/form-data":
        return body

    for part in _multipart_parts(content_type, body):
        if part.filename is not None or part.name == "file":
            return part.content
    return body


def bearer_token(headers: Mapping[str, str], params: Mapping[str, Any]) -> str | None:
    """Return the token from `Authorization: Bearer ...`, or from a `token` argument as older clients send it."""
    authorization = _header(headers, "Authorization")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()

    token = params.get("token")
    return token if isinstance(token, str) and token else None
