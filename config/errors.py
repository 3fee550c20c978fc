"""The error answers Django gives outside any view (config/urls.py's handler400/403/404/500):
JSON in the API's shape under /api/, whatever failed, and the site's pages everywhere else.
(DRF answers the errors its views raise itself, in the same shape: api/exceptions.py.)"""

from django.http import JsonResponse
from django.views import defaults


def _api(request) -> bool:
    return request.path.startswith("/api/")


def bad_request(request, exception):
    if _api(request):
        return JsonResponse({"detail": "The request could not be understood."}, status=400)
    return defaults.bad_request(request, exception)


def permission_denied(request, exception):
    if _api(request):
        return JsonResponse({"detail": "You do not have permission to do this."}, status=403)
    return defaults.permission_denied(request, exception)


def page_not_found(request, exception):
    if _api(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if _api(request):
        # No detail of what failed: that is for the log, which has it with the request id.
        return JsonResponse(
            {"detail": "Something went wrong on our side; nothing you sent was at fault."},
            status=500,
        )
    return defaults.server_error(request)
