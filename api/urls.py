"""The API's URLs: `/api/v1/…`, the OpenAPI schema at `/api/schema/` and its interactive page
at `/api/docs/` (both for signed-in users)."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from api.views import (
    auth,
    base,
    captures,
    cases,
    claims,
    comments,
    custody,
    desk,
    evidence,
    exports,
    search,
    sources,
    videos,
    webhooks,
)
from config.limits import accepts_videos

app_name = "api"

v1 = [
    path("auth/token/", auth.TokenCreateView.as_view(), name="auth-token"),
    path("auth/logout/", auth.LogoutView.as_view(), name="auth-logout"),
    path("auth/tokens/", auth.TokenList.as_view(), name="auth-tokens"),
    path("auth/tokens/<int:pk>/", auth.TokenDetail.as_view(), name="auth-token-detail"),
    path("cases/", cases.CaseList.as_view(), name="case-list"),
    path("cases/<int:case_id>/", cases.CaseDetail.as_view(), name="case-detail"),
    path("cases/<int:case_id>/members/", cases.MemberList.as_view(), name="case-members"),
    path(
        "cases/<int:case_id>/members/<int:user_id>/",
        cases.MemberDetail.as_view(),
        name="member-detail",
    ),
    path("cases/<int:case_id>/sources/", sources.SourceList.as_view(), name="case-sources"),
    # The one API door for evidence files: a video may be as large as CASEFILE_MAX_VIDEO_BYTES.
    path(
        "cases/<int:case_id>/evidence/",
        accepts_videos(evidence.EvidenceList.as_view()),
        name="case-evidence",
    ),
    path("cases/<int:case_id>/claims/", claims.ClaimList.as_view(), name="case-claims"),
    path("cases/<int:case_id>/activity/", cases.ActivityList.as_view(), name="case-activity"),
    path("sources/<int:pk>/", sources.SourceDetail.as_view(), name="source-detail"),
    # Chain of custody and exports (issue #6). `evidence/<pk>/` is the evidence detail view plus
    # DELETE (a tombstone).
    path(
        "evidence/<int:pk>/",
        custody.EvidenceDetailWithDelete.as_view(),
        name="evidence-detail",
    ),
    path("evidence/<int:pk>/custody/", custody.EvidenceCustody.as_view(), name="evidence-custody"),
    path("evidence/<int:pk>/purge/", custody.EvidencePurge.as_view(), name="evidence-purge"),
    path("cases/<int:case_id>/exports/", exports.CaseExports.as_view(), name="case-exports"),
    path("exports/<int:pk>/", exports.ExportDetail.as_view(), name="export-detail"),
    path("exports/<int:pk>/download/", exports.ExportDownload.as_view(), name="export-download"),
    path("evidence/<int:pk>/similar/", evidence.EvidenceSimilar.as_view(), name="evidence-similar"),
    path(
        "evidence/<int:pk>/original/", evidence.EvidenceOriginal.as_view(), name="evidence-original"
    ),
    path(
        "evidence/<int:pk>/thumbnail/",
        evidence.EvidenceThumbnail.as_view(),
        name="evidence-thumbnail",
    ),
    path("evidence/<int:pk>/preview/", evidence.EvidencePreview.as_view(), name="evidence-preview"),
    # A video's files and keyframes (issue #15).
    *(
        path(
            f"evidence/<int:pk>/video/{which}/",
            videos.EvidenceVideoFile.as_view(),
            {"which": which},
            name=f"evidence-video-{which}",
        )
        for which in ("poster", "contact-sheet", "preview")
    ),
    path(
        "evidence/<int:pk>/keyframes/<int:index>/",
        videos.EvidenceKeyframe.as_view(),
        name="evidence-keyframe",
    ),
    path(
        "evidence/<int:pk>/keyframes/<int:index>/thumbnail/",
        videos.EvidenceKeyframeThumbnail.as_view(),
        name="evidence-keyframe-thumbnail",
    ),
    path(
        "evidence/<int:pk>/reprocess/",
        evidence.EvidenceReprocess.as_view(),
        name="evidence-reprocess",
    ),
    # Link capture (issue #16).
    path("evidence/<int:pk>/capture/", captures.EvidenceCapture.as_view(), name="evidence-capture"),
    path(
        "evidence/<int:pk>/captures/", captures.EvidenceCaptures.as_view(), name="evidence-captures"
    ),
    path(
        "evidence/<int:pk>/captures/<int:capture_id>/files/<name>/",
        captures.EvidenceCaptureFile.as_view(),
        name="evidence-capture-file",
    ),
    path(
        "evidence/<int:pk>/comments/",
        comments.EvidenceComments.as_view(),
        name="evidence-comments",
    ),
    path("claims/<int:pk>/", claims.ClaimDetail.as_view(), name="claim-detail"),
    path("claims/<int:pk>/links/", claims.ClaimLinks.as_view(), name="claim-links"),
    path("claims/<int:pk>/submit/", claims.ClaimSubmit.as_view(), name="claim-submit"),
    path("claims/<int:pk>/review/", claims.ClaimReview.as_view(), name="claim-review"),
    path("claims/<int:pk>/history/", claims.ClaimHistory.as_view(), name="claim-history"),
    path("claims/<int:pk>/comments/", comments.ClaimComments.as_view(), name="claim-comments"),
    path("links/<int:pk>/", claims.LinkDetail.as_view(), name="link-detail"),
    path("comments/<int:pk>/", comments.CommentDetail.as_view(), name="comment-detail"),
    # Scripts (issue #17): webhooks and bulk import.
    path("cases/<int:case_id>/webhooks/", webhooks.WebhookList.as_view(), name="case-webhooks"),
    path(
        "cases/<int:case_id>/webhooks/<int:pk>/",
        webhooks.WebhookDetail.as_view(),
        name="webhook-detail",
    ),
    path(
        "cases/<int:case_id>/webhooks/<int:pk>/deliveries/",
        webhooks.WebhookDeliveries.as_view(),
        name="webhook-deliveries",
    ),
    path("cases/<int:case_id>/imports/", webhooks.CaseImport.as_view(), name="case-imports"),
    path("search/", search.SearchView.as_view(), name="search"),
    path("search/image/", search.ImageSearchView.as_view(), name="search-image"),
    path("notifications/", desk.NotificationList.as_view(), name="notifications"),
    path("notifications/read/", desk.NotificationsRead.as_view(), name="notifications-read"),
    path("review/", desk.ReviewInbox.as_view(), name="review-inbox"),
    path("claims/<int:pk>/assign/", desk.ClaimAssign.as_view(), name="claim-assign"),
    path("evidence/<int:pk>/assign/", desk.EvidenceAssign.as_view(), name="evidence-assign"),
    # Last: a JSON 404 for anything else under v1/.
    re_path(r"^.*$", base.NotFoundView.as_view(), name="not-found"),
]

urlpatterns = [
    path("v1/", include(v1)),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
]
