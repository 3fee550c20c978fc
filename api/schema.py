"""Schema hooks: every operation documents the errors it can answer, in the one error shape."""

ERROR_SCHEMA = {
    "type": "object",
    "description": (
        'An error: `{"detail": "…"}`, or field errors `{"field": ["…"], …}` for invalid input '
        "(`non_field_errors` for errors that concern no single field)."
    ),
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": True,
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
