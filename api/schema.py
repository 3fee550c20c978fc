"""Schema hooks: every operation documents the errors it can answer, in the one error shape;
every object a response carries is closed (`additionalProperties: false`), so that a key the
schema does not declare is a schema violation, not a silent addition (a leak starts as one).

An object left open on purpose says why, in `x-free-form` (`FreeFormField`, `free_form`).
"""

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers

# The schema keyword of an object open on purpose; its value is the reason.
FREE_FORM = "x-free-form"


def free_form(reason: str) -> dict:
    """The schema of a JSON object whose keys are not declared, and why."""
    return {"type": "object", "additionalProperties": True, FREE_FORM: reason}


class FreeFormField(serializers.JSONField):
    """A JSON object rendered as stored, declared open in the schema with `reason` (read by
    `close_response_objects`, which closes every other object of a response)."""

    def __init__(self, *, reason: str, **kwargs):
        self.reason = reason
        super().__init__(**kwargs)


class FreeFormFieldExtension(OpenApiSerializerFieldExtension):
    target_class = FreeFormField

    def map_serializer_field(self, auto_schema, direction):
        return free_form(self.target.reason)


ERROR_SCHEMA = {
    "type": "object",
    "description": (
        'An error: `{"detail": "…"}`, or field errors `{"field": ["…"], …}` for invalid input '
        "(`non_field_errors` for errors that concern no single field)."
    ),
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": True,
    FREE_FORM: "Field errors are keyed by the names of the request's fields.",
}

ERRORS = {
    "400": "Invalid input",
    "401": "Not signed in, or the token is invalid, expired or revoked",
    "403": "Your role in this case does not allow this (the message says which role is needed)",
    "404": "No such object, or not in a case you are a member of",
    "405": "Method not allowed",
    "406": "Not acceptable",
    "429": "Too many requests",
}
WRITE_ERRORS = {
    "409": "Conflicts with an existing record",
    "413": "Too large",
    "415": "Unsupported media type",
}


def add_error_responses(result, generator, request, public):
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    ref = {"$ref": "#/components/schemas/Error"}
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            errors = dict(ERRORS)
            if method in ("post", "put", "patch", "delete"):
                errors.update(WRITE_ERRORS)
            for code, description in errors.items():
                operation["responses"].setdefault(
                    code,
                    {"description": description, "content": {"application/json": {"schema": ref}}},
                )
    return result


def close_response_objects(result, generator, request, public):
    """Set `additionalProperties: false` on every object schema a response reaches, inline or
    a component, nested objects and list items included; objects marked `x-free-form` stay
    open. (Request bodies are their own components, `COMPONENT_SPLIT_REQUEST`: untouched.)"""
    components = result.get("components", {}).get("schemas", {})
    closed: set[str] = set()

    def close(schema) -> None:
        if not isinstance(schema, dict):
            return
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            if name not in closed:
                closed.add(name)
                close(components[name])
            return
        if FREE_FORM in schema:
            return
        if schema.get("type") == "object" or "properties" in schema:
            schema["additionalProperties"] = False
        for child in schema.get("properties", {}).values():
            close(child)
        close(schema.get("items"))
        for key in ("allOf", "oneOf", "anyOf"):
            for child in schema.get(key, ()):
                close(child)

    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            for response in operation.get("responses", {}).values():
                for media in response.get("content", {}).values():
                    close(media.get("schema"))
    return result
