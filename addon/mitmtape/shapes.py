"""Shapes of traffic shared by compare and the OpenAPI export: endpoints with their ids folded,
and JSON Schemas merged over the bodies seen.

An endpoint is method + host + path with ids folded to `{id}` (`/users/42` and `/users/97` are
one endpoint), so captures of the same app line up even when the data differs. Schemas are
merged by genson, a well-kept JSON Schema generator, so `required`, nullable and nested arrays
follow its tested rules rather than ours; only string formats are added here.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from genson import SchemaBuilder
from genson.schema.strategies import String
from mitmproxy.net import encoding

from mitmtape.model import Body, Headers, header_value, media_type

ID_SEGMENT = re.compile(
    r"""^(
        \d+                                                    # 42
      | [0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}  # UUID
      | [0-7][0-9a-hjkmnp-tv-z]{25}                            # ULID
      | [0-9a-f]{16,}                                          # hashes, object ids
    )$""",
    re.IGNORECASE | re.VERBOSE,
)
ID = "{id}"


def fold_path(path: str) -> str:
    """`/users/42/orders/01HW...` → `/users/{id}/orders/{id}`."""
    return "/".join(ID if ID_SEGMENT.match(part) else part for part in path.split("/"))


# Path parameters: the OpenAPI export names the folded segments `{id}`, `{id2}`, ... in order
# and types each by what it looked like.
INTEGER_SEGMENT = re.compile(r"^\d+$")
UUID_SEGMENT = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE
)
PathParameterType = Literal["integer", "uuid", "string"]
PARAMETER_SCHEMAS: dict[str, dict[str, str]] = {
    "integer": {"type": "integer"},
    "uuid": {"type": "string", "format": "uuid"},
    "string": {"type": "string"},
}


def segment_type(segment: str) -> PathParameterType:
    """What kind of id a folded segment is: digits, a UUID, or another token (ULID, hash)."""
    if INTEGER_SEGMENT.match(segment):
        return "integer"
    return "uuid" if UUID_SEGMENT.match(segment) else "string"


def path_template(path: str) -> tuple[str, tuple[tuple[str, PathParameterType], ...]]:
    """`/users/42/orders/7` → `/users/{id}/orders/{id2}` and its parameters with their types.

    Literal braces in a segment are percent-encoded, so they never read as a template.
    """
    parts: list[str] = []
    parameters: list[tuple[str, PathParameterType]] = []
    for part in path.split("/"):
        if ID_SEGMENT.match(part):
            name = "id" if not parameters else f"id{len(parameters) + 1}"
            parameters.append((name, segment_type(part)))
            parts.append(f"{{{name}}}")
        else:
            parts.append(part.replace("{", "%7B").replace("}", "%7D"))
    return "/".join(parts), tuple(parameters)


def merged_parameter_type(a: PathParameterType, b: PathParameterType) -> PathParameterType:
    """Two samples of one parameter that disagree (`42` and `abc`) make it a string."""
    return a if a == b else "string"


# String formats JSON Schema names and we can tell from one value.
STRING_FORMATS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("uuid", UUID_SEGMENT),
    (
        "date-time",
        re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:?\d{2})$"),
    ),
    ("email", re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")),
    ("uri", re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://\S+$")),
)


def string_format(value: str) -> str | None:
    return next((name for name, pattern in STRING_FORMATS if pattern.match(value)), None)


_UNSEEN = object()


class FormattedString(String):
    """genson's string strategy plus `format`, kept only when every sample had the same one."""

    KEYWORDS = (*String.KEYWORDS, "format")

    def __init__(self, node_class: type) -> None:
        super().__init__(node_class)
        self._format: object = _UNSEEN

    def add_object(self, obj: str) -> None:
        super().add_object(obj)
        found = string_format(obj)
        self._format = found if self._format in (_UNSEEN, found) else None

    def to_schema(self) -> dict[str, Any]:
        schema = super().to_schema()
        if isinstance(self._format, str):
            schema["format"] = self._format
        return schema


class ShapeBuilder(SchemaBuilder):
    """A JSON Schema merged over every sample (genson: types, nesting, arrays, `required` as
    the keys present in all samples), with string formats (date-time, uuid, email, uri)."""

    EXTRA_STRATEGIES = (FormattedString,)

    def __init__(self) -> None:
        super().__init__(schema_uri=None)

    def schema(self) -> dict[str, Any]:
        """The merged schema, `null` folded into the type (`["string", "null"]`) where seen."""
        return _tidy(self.to_schema())


def _tidy(schema: dict[str, Any]) -> dict[str, Any]:
    """genson writes a nullable formatted string as `anyOf: [{null}, {string, format}]`;
    JSON Schema says the same more plainly as one schema with `type: [string, null]`."""
    tidy = dict(schema)
    if "properties" in tidy:
        tidy["properties"] = {key: _tidy(value) for key, value in tidy["properties"].items()}
    if isinstance(tidy.get("items"), dict):
        tidy["items"] = _tidy(tidy["items"])
    if "anyOf" in tidy:
        options = [_tidy(option) for option in tidy["anyOf"]]
        others = [option for option in options if option != {"type": "null"}]
        if len(others) == 1 and len(options) == 2 and isinstance(others[0].get("type"), str):
            return {**others[0], "type": [others[0]["type"], "null"]}
        tidy["anyOf"] = options
    return tidy


def scalar_of(text: str) -> int | float | bool | str:
    """A query or form value as the JSON value it spells, so `42` is typed as an integer."""
    digits = text.removeprefix("-")
    if INTEGER_SEGMENT.match(digits) and len(digits) <= MAX_INTEGER_DIGITS:
        return int(text)
    if text in ("true", "false"):
        return text == "true"
    if FLOAT_TEXT.match(text):
        return float(text)
    return text


# Longer digit strings (past a 64-bit integer's 19 digits) are ids or card numbers, not numbers
# anybody computes with.
MAX_INTEGER_DIGITS = 19
FLOAT_TEXT = re.compile(r"^-?\d+\.\d+$")


def form_sample(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Query or form pairs as one object: a name given twice or more becomes a list."""
    sample: dict[str, Any] = {}
    for name, value in pairs:
        scalar = scalar_of(value)
        if name not in sample:
            sample[name] = scalar
        elif isinstance(sample[name], list):
            sample[name].append(scalar)
        else:
            sample[name] = [sample[name], scalar]
    return sample


def field_types(schema: dict[str, Any], path: str = "") -> dict[str, str]:
    """Every field of a merged schema and its type: `{"items[].price": "integer", ...}`.

    Array items are `name[]`; a type that varies reads `integer|string`. Compare diffs two
    of these to say which fields came, went or changed type.
    """
    found: dict[str, str] = {}
    if path:
        found[path] = "|".join(sorted(type_names(schema)))
    for option in [schema, *schema.get("anyOf", [])]:
        for name, value in option.get("properties", {}).items():
            found.update(field_types(value, f"{path}.{name}" if path else name))
        if isinstance(option.get("items"), dict):
            found.update(field_types(option["items"], f"{path}[]"))
    return found


def type_names(schema: dict[str, Any]) -> set[str]:
    """The JSON types a schema allows, `anyOf` options included."""
    kind = schema.get("type")
    types = {kind} if isinstance(kind, str) else set(kind or ())
    for option in schema.get("anyOf", []):
        types |= type_names(option)
    return types


# What a body has to be for its shape to be read: JSON by its content type.
NOT_JSON = object()


def is_json_type(media: str) -> bool:
    return media == "application/json" or media.endswith("+json")


def json_value(body: Body, headers: Headers) -> Any:
    """The JSON a body holds (content-decoded), or `NOT_JSON` when it is not JSON."""
    if not body.data or not is_json_type(media_type(header_value(headers, "content-type"))):
        return NOT_JSON
    try:
        return json.loads(decoded_bytes(body.data, header_value(headers, "content-encoding")))
    except ValueError:
        return NOT_JSON


def decoded_bytes(data: bytes, content_encoding: str | None) -> bytes:
    """`Content-Encoding` undone by mitmproxy's decoders (a list was applied left to right);
    a coding it does not know, or a body that fails to decode, stays as it is."""
    codings = [c.strip().lower() for c in (content_encoding or "").split(",")]
    try:
        for coding in reversed([c for c in codings if c not in ("", "identity")]):
            data = encoding.decode(data, coding)
    except ValueError:
        pass
    return data
