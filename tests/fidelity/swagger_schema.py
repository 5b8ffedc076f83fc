"""A small Swagger 2.0 → JSON Schema (draft 4) adapter for validating the simulator against the spec.

Swagger 2.0 schemas are almost JSON Schema draft 4; the differences handled here:

* `x-nullable: true` admits null (for `$ref` properties too); without it, null is rejected.
* `readOnly` properties are allowed in responses and forbidden in request bodies (mode="request").
* Formats `uuid`, `date-time`, `int32`, `float`, `double` and `byte` are actually checked.
* `strict=True` rejects properties the spec does not declare (the Swagger never says
  `additionalProperties: false`, but an unknown or misspelt field is exactly what a fidelity test
  should catch). Objects that declare `additionalProperties` (metadata maps) keep their rule.
* Swagger-only keywords (`x-ms-*`, `example`, `description`, `discriminator`…) are dropped.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from jsonschema import Draft4Validator, FormatChecker

Mode = Literal["response", "request"]
_COPIED = ("enum", "format", "minimum", "maximum", "minItems", "maxItems", "pattern", "minLength", "maxLength")
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def _is_uuid(value: object) -> bool:
    return not isinstance(value, str) or str(uuid.UUID(value)) == value


def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _DATE_TIME.match(value):
        return False
    datetime.fromisoformat(value)
    return True


def _is_int32(value: object) -> bool:
    return not isinstance(value, int) or -(2**31) <= value < 2**31


def _is_finite(value: object) -> bool:
    return not isinstance(value, float) or math.isfinite(value)


def _is_base64(value: object) -> bool:
    return not isinstance(value, str) or base64.b64decode(value, validate=True) is not None


def format_checker() -> FormatChecker:
    """Checks for the formats the Custom Vision Swagger uses (jsonschema checks none of them by default)."""
    checker = FormatChecker(formats=())
    checker.checks("uuid", raises=ValueError)(_is_uuid)
    checker.checks("date-time", raises=ValueError)(_is_date_time)
    checker.checks("int32")(_is_int32)
    checker.checks("float")(_is_finite)
    checker.checks("double")(_is_finite)
    checker.checks("byte", raises=binascii.Error)(_is_base64)
    return checker


def _nullable(schema: dict[str, Any], nullable: bool) -> dict[str, Any]:
    if not nullable:
        return schema
    kind = schema.get("type")
    if "$ref" in schema or not isinstance(kind, str):
        return {"anyOf": [schema, {"type": "null"}]}
    widened = {**schema, "type": [kind, "null"]}
    if "enum" in widened:
        widened["enum"] = [*widened["enum"], None]
    return widened


def to_json_schema(node: dict[str, Any], mode: Mode, *, strict: bool) -> dict[str, Any]:
    """Convert one Swagger schema object (see the module docstring for the rules)."""
    nullable = node.get("x-nullable") is True
    if "$ref" in node:
        return _nullable({"$ref": node["$ref"]}, nullable)
    kind = node.get("type")
    if kind == "file":
        return {}
    out: dict[str, Any] = {key: node[key] for key in _COPIED if key in node}
    if kind:
        out["type"] = kind
    if "items" in node:
        out["items"] = to_json_schema(node["items"], mode, strict=strict)
    if kind == "object" or "properties" in node:
        properties = node.get("properties", {})
        converted = {}
        read_only = []
        for name, prop in properties.items():
            if mode == "request" and prop.get("readOnly"):
                read_only.append(name)
            else:
                converted[name] = to_json_schema(prop, mode, strict=strict)
        if properties:
            out["properties"] = converted
        required = [name for name in node.get("required", []) if name in converted]
        if required:
            out["required"] = required
        if read_only:
            out["not"] = {"anyOf": [{"required": [name]} for name in read_only]}
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            out["additionalProperties"] = to_json_schema(extra, mode, strict=strict)
        elif extra is not None:
            out["additionalProperties"] = extra
        elif strict and properties:
            out["additionalProperties"] = False
    return _nullable(out, nullable)


@dataclass(frozen=True)
class OperationSpec:
    operation_id: str
    method: str
    path: str
    parameters: tuple[dict[str, Any], ...]
    responses: dict[str, Any]
    pattern: re.Pattern[str]

    def query_parameter_names(self) -> set[str]:
        return {parameter["name"] for parameter in self.parameters if parameter.get("in") == "query"}

    def body_schema(self) -> dict[str, Any] | None:
        for parameter in self.parameters:
            if parameter.get("in") == "body":
                schema: dict[str, Any] = parameter["schema"]
                return schema
        return None


class SwaggerSchemas:
    """Operations of a Swagger document and validators for their bodies."""

    def __init__(self, document: dict[str, Any], *, strict: bool = True) -> None:
        self.document = document
        self.base_path: str = document["basePath"]
        self._strict = strict
        self._checker = format_checker()
        self._definitions = {
            mode: {
                name: to_json_schema(schema, mode, strict=strict) for name, schema in document["definitions"].items()
            }
            for mode in ("response", "request")
        }
        operations = []
        for path, methods in document["paths"].items():
            for method, operation in methods.items():
                if method == "parameters":
                    continue
                regex = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$"
                operations.append(
                    OperationSpec(
                        operation["operationId"],
                        method.upper(),
                        path,
                        tuple(operation.get("parameters", [])),
                        operation["responses"],
                        re.compile(regex),
                    )
                )
        self.operations = {operation.operation_id: operation for operation in operations}

    def find(self, method: str, relative_path: str) -> OperationSpec | None:
        """The operation serving `method relative_path`; literal segments win over path parameters."""
        candidates = [
            op for op in self.operations.values() if op.method == method.upper() and op.pattern.match(relative_path)
        ]
        candidates.sort(key=lambda op: op.path.count("{"))
        return candidates[0] if candidates else None

    def validator(self, schema: dict[str, Any], mode: Mode = "response") -> Draft4Validator:
        root = {**to_json_schema(schema, mode, strict=self._strict), "definitions": self._definitions[mode]}
        return Draft4Validator(root, format_checker=self._checker)

    def definition_validator(self, name: str, mode: Mode = "response") -> Draft4Validator:
        return self.validator({"$ref": f"#/definitions/{name}"}, mode)

    def response_schema(self, operation: OperationSpec, status: int) -> tuple[bool, dict[str, Any] | None]:
        """(declared, schema): whether the status is declared, and its body schema (None = no body)."""
        declared = operation.responses.get(str(status))
        if declared is not None:
            return True, declared.get("schema")
        return False, operation.responses["default"].get("schema")
