"""A video's files through the API (issue #15): its poster, contact sheet and web-playable
preview, and each keyframe (a thumbnail, and the frame itself to download for a reverse image
search elsewhere). To any member of the case, as a photo's derivatives are."""

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema

from api.views.evidence import EvidenceDetail
from evidence.downloads import download_response
from evidence.ranges import ranged_response
from evidence.video_files import VIDEO_FILES, keyframe_filename
from evidence.video_selectors import keyframe_of


class EvidenceVideoFile(EvidenceDetail):
    """`which`: poster (JPEG), contact-sheet (JPEG) or preview (MP4)."""

    http_method_names = ["get", "options"]

    @extend_schema(responses={(200, "*/*"): OpenApiTypes.BINARY})
    def get(self, request, pk, which):
        video = self.get_parent().video_or_none
        if which not in VIDEO_FILES or video is None:
            raise Http404("No such file of a video.")
        field, content_type = VIDEO_FILES[which]
        stored = getattr(video, field)
        if not stored:
            raise Http404(f"This video has no {which} yet.")
        if which == "preview":  # a player seeks by asking for byte ranges
            return ranged_response(
                request, stored, content_type=content_type, filename=f"preview-{video.pk}.mp4"
            )
        return download_response(
            stored.open("rb"),
            content_type=content_type,
            filename=f"{which}-{video.pk}{'.mp4' if which == 'preview' else '.jpg'}",
            as_attachment=False,
        )


class EvidenceKeyframe(EvidenceDetail):
    """One keyframe of a video, as a JPEG (at most 1280 px; `thumbnail/`: 320 px)."""

    http_method_names = ["get", "options"]
    size = "image"

    @extend_schema(responses={(200, "image/jpeg"): OpenApiTypes.BINARY})
    def get(self, request, pk, index):
        evidence = self.get_parent()
        video = evidence.video_or_none
        keyframe = keyframe_of(video=video, index=index) if video is not None else None
        if keyframe is None:
            raise Http404("No such keyframe.")
        return download_response(
            getattr(keyframe, self.size).open("rb"),
            content_type="image/jpeg",
            filename=keyframe_filename(evidence, keyframe),
            as_attachment=self.size == "image" and request.GET.get("download") == "1",
        )


class EvidenceKeyframeThumbnail(EvidenceKeyframe):
    size = "thumbnail"
