"""Unknown query parameters are a 400 naming them.

A list that ignores a misspelt filter (`?evidnce=12`, `?q=…` where there is no search) answers
with the whole list, and a script reads that as the filtered answer. Every API view refuses a
query parameter it does not read: what a view reads is derived from what it already declares
(its filter set, its ordering fields, the pagination of a list, DRF's `format`), plus the
names a view lists itself in `extra_query_params` (a parameter its code reads by hand).
"""

from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import exceptions, mixins
from rest_framework.filters import OrderingFilter
from rest_framework.settings import api_settings


def known_params(view) -> set[str]:
    """The query parameters `view` reads."""
    known = set(getattr(view, "extra_query_params", ()))
    if api_settings.URL_FORMAT_OVERRIDE:
        known.add(api_settings.URL_FORMAT_OVERRIDE)
    if not isinstance(view, mixins.ListModelMixin):
        return known
    paginator = getattr(view, "paginator", None)
    if paginator is not None:
        for attribute in ("page_query_param", "page_size_query_param"):
            if getattr(paginator, attribute, None):
                known.add(getattr(paginator, attribute))
    backends = getattr(view, "filter_backends", ())
    for backend in backends:
        if issubclass(backend, OrderingFilter) and getattr(view, "ordering_fields", None):
            known.add(backend.ordering_param)
        if issubclass(backend, DjangoFilterBackend):
            filterset = getattr(view, "filterset_class", None)
            if filterset is not None:
                known.update(filterset.base_filters)
    return known


class UnknownQueryParameter(exceptions.APIException):
    status_code = 400
    default_code = "unknown_query_parameter"


class KnownParams:
    """Mixed into every API view: a request whose query string names a parameter the view
    does not read is refused (400) before the view runs, naming each unknown parameter."""

    extra_query_params: tuple[str, ...] = ()

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        unknown = sorted(set(request.query_params) - known_params(self))
        if unknown:
            names = ", ".join(unknown)
            known = ", ".join(sorted(known_params(self))) or "none"
            raise UnknownQueryParameter(
                f"Unknown query parameter(s): {names}. This endpoint reads: {known}."
            )
