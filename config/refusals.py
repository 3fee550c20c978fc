"""How a service's refusal reads over HTTP, for both doors (the pages and the API).

Services raise Django's `ValidationError`; its `code` says what kind of refusal it is. Most
are a plain 400; these few are answered with the status that says more.
"""

from django.core.exceptions import ValidationError

STATUS_FOR_CODE = {
    "file_too_large": 413,
    "image_too_large": 413,
    "video_too_long": 413,
    "video_too_large": 413,
    "unsupported_media_type": 415,
    "export_not_ready": 409,
    "export_expired": 410,
}


def refusal_codes(exc: ValidationError) -> set[str]:
    errors = (
        [e for errors in exc.error_dict.values() for e in errors]
        if hasattr(exc, "error_dict")
        else exc.error_list
    )
    return {e.code for e in errors if e.code}


def refusal_status(exc: ValidationError) -> int:
    """The HTTP status of a refusal: by the first of its codes that has one, else 400."""
    for code in sorted(refusal_codes(exc)):
        if code in STATUS_FOR_CODE:
            return STATUS_FOR_CODE[code]
    return 400
