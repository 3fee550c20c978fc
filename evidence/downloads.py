"""How every file the app serves is answered, through either door: originals, derivatives
(thumbnails, previews) and export bundles.

`Cache-Control: private, no-store` on all of them: they come from cases a reader was let into,
and an original or a bundle may carry what identifies a source; no shared or browser cache
keeps a copy past the permission check that let it out. The file is never run as a page of our
origin (nosniff, and a sandboxing Content-Security-Policy of its own)."""

from django.http import FileResponse


def download_response(file, *, content_type: str, filename: str, as_attachment: bool):
    response = FileResponse(
        file, as_attachment=as_attachment, filename=filename, content_type=content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response
