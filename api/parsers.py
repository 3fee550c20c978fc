"""The API's JSON parser: DRF's, with a bound on nesting.

Python's decoder raises RecursionError (not ValueError) on a deeply nested document, which DRF
let through as a 500; no body of this API nests deeper than a few levels, so anything past
MAX_DEPTH is a 400 before a serializer walks it."""

from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_DEPTH = 32


def _depth_exceeds(value, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        refusal = f"JSON parse error - nested deeper than {MAX_DEPTH} levels."
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(refusal) from None
        if _depth_exceeds(data, MAX_DEPTH):
            raise ParseError(refusal)
        return data
