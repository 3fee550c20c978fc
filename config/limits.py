"""Limits at the door, before any view, for every URL, signed in or not.

- A request whose `Content-Length` is above its URL's upload limit (plus room for the form's
  other fields) is answered 413 before a byte of its body is read: CASEFILE_MAX_VIDEO_BYTES for
  the views that take evidence files (`accepts_videos`), CASEFILE_MAX_UPLOAD_BYTES for every
  other URL (the login page takes no 2 GB body). Each file is held to its own kind's limit
  while it streams.
- A multipart body is parsed here, so that a file streaming past the limit is stopped at the
  limit (`config.uploads.HashingUploadHandler`) and answered 413 whatever URL it was sent to —
  the CSRF check of an anonymous POST would otherwise read it first and answer 403 later.
- A NUL byte in a query-string parameter is a 400 naming the parameter: no database stores it,
  and PostgreSQL refuses it in a query with an error.

Answers are JSON under /api/ (`{"detail": …}` or `{"<field>": […]}`, the API's error shape) and
to the upload page's script (`{"error": …}`), a page otherwise.
"""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.template.loader import render_to_string
from django.urls import Resolver404, resolve

from config.uploads import UploadTooLarge, megabytes, request_limit

# Room in a request for the fields sent beside the file (a title, a source, the CSRF token)
# and for the multipart framing.
FORM_ALLOWANCE_BYTES = 1024 * 1024


def answers_json(view):
    """Mark a page's view whose caller is a script reading JSON (the upload page's), so that a
    refusal at the door reaches it in that shape too."""
    view.answers_json = True
    return view


def accepts_videos(view):
    """Mark a view that takes evidence files, videos among them: its requests may be as large
    as the video limit (`config.uploads.request_limit`); every other URL's, the upload limit."""
    view.accepts_videos = True
    return view


def error_response(request, status: int, message: str, *, field: str = "", view=None):
    """The refusal in the shape the caller reads: the API's, the upload script's, or a page."""
    if request.path.startswith("/api/"):
        return JsonResponse({field: [message]} if field else {"detail": message}, status=status)
    if getattr(view, "answers_json", False) or (
        request.headers.get("X-Requested-With") == "XMLHttpRequest"
    ):
        return JsonResponse({"error": message}, status=status)
    html = render_to_string("error.html", {"status": status, "message": message}, request)
    return HttpResponse(html, status=status)


def _content_length(request) -> int:
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


def _accepts_videos(request) -> bool:
    try:
        match = resolve(request.path_info, getattr(request, "urlconf", None))
    except Resolver404:
        return False
    return getattr(match.func, "accepts_videos", False)


def _too_long(request, limit: int) -> HttpResponse | None:
    """The 413 for a request whose Content-Length is over `limit` (and the form's allowance)."""
    size = _content_length(request)
    if size <= limit + FORM_ALLOWANCE_BYTES:
        return None
    message = (
        f"The request is {megabytes(size)}, above the {megabytes(limit)} upload limit: "
        "nothing was read or stored."
    )
    return _cut(error_response(request, 413, message))


def _cut(response: HttpResponse) -> HttpResponse:
    # The rest of the body was never read: the connection cannot carry another request.
    response["Connection"] = "close"
    return response


class RequestLimitsMiddleware:
    """Sits before CsrfViewMiddleware: its `process_view` parses a multipart body first."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # Only the views that take evidence files may receive a video's size.
        request.accepts_videos = _accepts_videos(request)
        limit = request_limit() if request.accepts_videos else settings.CASEFILE_MAX_UPLOAD_BYTES
        refused = _too_long(request, limit)
        if refused is not None:
            return refused
        for name, values in request.GET.lists():
            if "\x00" in name or any("\x00" in value for value in values):
                name = name.replace("\x00", "")
                message = f"The parameter {name!r} contains a NUL byte."
                return error_response(request, 400, message, field=name)
        return self.get_response(request)

    def process_view(self, request, view, args, kwargs):
        if request.method != "POST" or request.content_type != "multipart/form-data":
            return None
        try:
            request.FILES  # noqa: B018 - parsed now, under the limit, before the CSRF check
        except UploadTooLarge as exc:
            return _cut(error_response(request, 413, str(exc), field=exc.field, view=view))
        except RequestDataTooBig as exc:
            return _cut(error_response(request, 413, str(exc), view=view))
        except (MultiPartParserError, TooManyFieldsSent, TooManyFilesSent) as exc:
            message = f"The form could not be read: {exc}"
            return error_response(request, 400, message, view=view)
        return None
