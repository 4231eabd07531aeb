"""OpenAPI 3.1 export: the API a session talked to, inferred from its traffic in one pass.

Each record is folded into its operation as it streams by (path ids to `{id}`, `{id2}`, ...;
query, request and response bodies merged into JSON Schemas by `shapes.ShapeBuilder`), so
memory grows with the number of operations and the size of their schemas, never with the
number of flows. The pipeline hands records already filtered and redacted, which is why the
examples (the first body, query value and header value seen) carry no secret it would mask.
The file is JSON, or YAML when its name ends in `.yaml`/`.yml`.
"""

from __future__ import annotations

import json
import statistics
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, TextIO
from urllib.parse import parse_qsl, urlsplit

from ruamel.yaml import YAML

from mitmtape.export.base import ExportContext, ExportFormat
from mitmtape.model import Body, FlowRecord, Headers, Response, header_value, is_text, media_type
from mitmtape.shapes import (
    NOT_JSON,
    PARAMETER_SCHEMAS,
    PathParameterType,
    ShapeBuilder,
    decoded_bytes,
    form_sample,
    json_value,
    merged_parameter_type,
    path_template,
)

OPENAPI_VERSION = "3.1.0"
# The methods an OpenAPI path item has operations for; flows of other methods are left out.
OPERATION_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
FORM_TYPE = "application/x-www-form-urlencoded"
# A body larger than this still shapes the schema but is not copied in as the example.
EXAMPLE_MAX_BYTES = 16 * 1024
# Response headers not documented: OpenAPI ignores `Content-Type` there, and the others say
# how the bytes travelled, not what the API answers.
UNDOCUMENTED_HEADERS = frozenset(
    {"content-type", "content-length", "date", "connection", "keep-alive", "transfer-encoding"}
)
YAML_SUFFIXES = (".yaml", ".yml")
NO_EXAMPLE = object()


@dataclass(slots=True)
class BodyShapes:
    """The bodies of one media type seen in one place (a request or a status code)."""

    media: str
    builder: ShapeBuilder = field(default_factory=ShapeBuilder)
    structured: int = 0  # samples parsed as JSON or form data
    binary: bool = False
    example: Any = NO_EXAMPLE

    def add(self, body: Body, headers: Headers) -> None:
        value = self._value(body, headers)
        if value is NOT_JSON:
            self.binary = self.binary or not is_text(self.media, body.data)
            return
        self.builder.add_object(value)
        self.structured += 1
        if self.example is NO_EXAMPLE and len(body.data) <= EXAMPLE_MAX_BYTES:
            self.example = value

    def _value(self, body: Body, headers: Headers) -> Any:
        if self.media != FORM_TYPE:
            return json_value(body, headers)
        text = decoded_bytes(body.data, header_value(headers, "content-encoding"))
        try:
            return form_sample(parse_qsl(text.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            return NOT_JSON

    def to_openapi(self) -> dict[str, Any]:
        if self.structured:
            schema = self.builder.schema()
        elif self.binary:
            schema = {"type": "string", "format": "binary"}
        else:
            schema = {"type": "string"}
        content: dict[str, Any] = {"schema": schema}
        if self.example is not NO_EXAMPLE:
            content["example"] = self.example
        return content


def _add_body(shapes: dict[str, BodyShapes], body: Body, headers: Headers) -> bool:
    """Fold a body into the shapes of its media type; False for an empty or unkept body."""
    if not body.data:
        return False
    media = media_type(header_value(headers, "content-type")) or "application/octet-stream"
    shapes.setdefault(media, BodyShapes(media)).add(body, headers)
    return True


@dataclass(slots=True)
class ResponseShapes:
    reason: str = ""
    content: dict[str, BodyShapes] = field(default_factory=dict)
    header_examples: dict[str, str] = field(default_factory=dict)

    def add(self, response: Response) -> None:
        self.reason = self.reason or response.reason
        _add_body(self.content, response.body, response.headers)
        for name, value in response.headers:
            lowered = name.lower()
            if lowered not in UNDOCUMENTED_HEADERS:
                self.header_examples.setdefault(lowered, value)

    def to_openapi(self, status: int) -> dict[str, Any]:
        answer: dict[str, Any] = {"description": self.reason or _phrase(status)}
        if self.header_examples:
            answer["headers"] = {
                name: {"schema": {"type": "string"}, "example": value}
                for name, value in sorted(self.header_examples.items())
            }
        if self.content:
            answer["content"] = {m: s.to_openapi() for m, s in sorted(self.content.items())}
        return answer


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"Status {status}"


@dataclass(slots=True)
class OperationShapes:
    samples: int = 0
    durations: array[float] = field(default_factory=lambda: array("d"))
    query: ShapeBuilder = field(default_factory=ShapeBuilder)
    query_examples: dict[str, str] = field(default_factory=dict)
    bodies: int = 0
    requests: dict[str, BodyShapes] = field(default_factory=dict)
    responses: dict[int, ResponseShapes] = field(default_factory=dict)

    def add(self, record: FlowRecord) -> None:
        self.samples += 1
        if record.duration_ms is not None:
            self.durations.append(record.duration_ms)
        pairs = parse_qsl(urlsplit(record.request.url).query, keep_blank_values=True)
        self.query.add_object(form_sample(pairs))
        for name, value in pairs:
            self.query_examples.setdefault(name, value)
        self.bodies += _add_body(self.requests, record.request.body, record.request.headers)
        if record.response is not None:
            self.responses.setdefault(record.status, ResponseShapes()).add(record.response)

    def to_openapi(self) -> dict[str, Any]:
        operation: dict[str, Any] = {}
        if parameters := self._query_parameters():
            operation["parameters"] = parameters
        if self.requests:
            operation["requestBody"] = {
                "required": self.bodies == self.samples,
                "content": {m: s.to_openapi() for m, s in sorted(self.requests.items())},
            }
        operation["responses"] = {
            str(status): shapes.to_openapi(status)
            for status, shapes in sorted(self.responses.items())
        } or {"default": {"description": "no response was recorded"}}
        median = statistics.median(self.durations) if self.durations else None
        operation["x-mitmtape"] = {
            "samples": self.samples,
            "median_duration_ms": None if median is None else round(median, 1),
        }
        return operation

    def _query_parameters(self) -> list[dict[str, Any]]:
        schema = self.query.schema()
        required = set(schema.get("required", ()))
        return [
            {
                "name": name,
                "in": "query",
                "required": name in required,
                "schema": value,
                "example": self.query_examples[name],
            }
            for name, value in schema.get("properties", {}).items()
        ]


@dataclass(slots=True)
class PathShapes:
    parameters: list[PathParameterType]
    names: list[str]
    operations: dict[str, OperationShapes] = field(default_factory=dict)

    def to_openapi(self) -> dict[str, Any]:
        item: dict[str, Any] = {}
        if self.names:
            item["parameters"] = [
                {"name": name, "in": "path", "required": True, "schema": PARAMETER_SCHEMAS[kind]}
                for name, kind in zip(self.names, self.parameters, strict=True)
            ]
        for method in OPERATION_METHODS:
            if method in self.operations:
                item[method] = self.operations[method].to_openapi()
        return item


@dataclass(slots=True)
class ApiShapes:
    """Everything the document says, gathered one record at a time."""

    flows: int = 0
    servers: dict[str, None] = field(default_factory=dict)
    paths: dict[str, PathShapes] = field(default_factory=dict)

    def add(self, record: FlowRecord) -> None:
        request = record.request
        method = request.method.lower()
        if method not in OPERATION_METHODS or not request.path.startswith("/"):
            return
        self.flows += 1
        parts = urlsplit(request.url)
        self.servers.setdefault(f"{parts.scheme}://{parts.netloc.rpartition('@')[2].lower()}")
        template, parameters = path_template(request.path)
        names = [name for name, _ in parameters]
        kinds = [kind for _, kind in parameters]
        shapes = self.paths.setdefault(template, PathShapes(kinds, names))
        merged = zip(shapes.parameters, kinds, strict=True)
        shapes.parameters = [merged_parameter_type(a, b) for a, b in merged]
        shapes.operations.setdefault(method, OperationShapes()).add(record)

    def to_openapi(self, context: ExportContext) -> dict[str, Any]:
        session = context.session
        document: dict[str, Any] = {
            "openapi": OPENAPI_VERSION,
            "info": {
                "title": session.name,
                "version": context.exported_at.strftime("%Y-%m-%d"),
                "description": f"Inferred by mitmtape from {self.flows:,} recorded flows.",
            },
        }
        if self.servers:
            document["servers"] = [{"url": url} for url in self.servers]
        document["paths"] = {
            path: shapes.to_openapi() for path, shapes in sorted(self.paths.items())
        }
        document["x-mitmtape"] = {"session": session.id, "flows": self.flows}
        return document


def write(stream: TextIO, records: Iterator[FlowRecord], context: ExportContext) -> None:
    shapes = ApiShapes()
    for record in records:
        shapes.add(record)
    document = shapes.to_openapi(context)
    if context.file_name.lower().endswith(YAML_SUFFIXES):
        _write_yaml(stream, document)
    else:
        json.dump(document, stream, ensure_ascii=False, indent=2)
        stream.write("\n")


def _write_yaml(stream: TextIO, document: dict[str, Any]) -> None:
    """ruamel.yaml (mitmproxy's own dependency), keys in document order, marked YAML 1.1 so
    strings such as `on` and `yes` are quoted for readers of either YAML version."""
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False
    yaml.version = (1, 1)
    yaml.dump(document, stream)


FORMAT = ExportFormat(
    name="openapi",
    suffix=".openapi.json",
    media_type="application/vnd.oai.openapi+json",
    needs_bodies=True,
    write=write,
    label="OpenAPI",
    # Made to be handed to others, and its examples are real values: redaction ticked.
    shared=True,
)
