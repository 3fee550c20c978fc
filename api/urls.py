"""The API's URLs: `/api/v1/…`, the OpenAPI schema at `/api/schema/` and its interactive page
at `/api/docs/` (both for signed-in users)."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from api import exports, views

app_name = "api"

v1 = [
    path("auth/token/", views.TokenCreateView.as_view(), name="auth-token"),
    path("auth/logout/", views.LogoutView.as_view(), name="auth-logout"),
    path("auth/tokens/", views.TokenList.as_view(), name="auth-tokens"),
    path("auth/tokens/<int:pk>/", views.TokenDetail.as_view(), name="auth-token-detail"),
    path("cases/", views.CaseList.as_view(), name="case-list"),
    path("cases/<int:case_id>/", views.CaseDetail.as_view(), name="case-detail"),
    path("cases/<int:case_id>/members/", views.MemberList.as_view(), name="case-members"),
    path(
        "cases/<int:case_id>/members/<int:user_id>/",
        views.MemberDetail.as_view(),
        name="member-detail",
    ),
    path("cases/<int:case_id>/sources/", views.SourceList.as_view(), name="case-sources"),
    path("cases/<int:case_id>/evidence/", views.EvidenceList.as_view(), name="case-evidence"),
    path("cases/<int:case_id>/claims/", views.ClaimList.as_view(), name="case-claims"),
    path("cases/<int:case_id>/activity/", views.ActivityList.as_view(), name="case-activity"),
    path("sources/<int:pk>/", views.SourceDetail.as_view(), name="source-detail"),
    # Chain of custody and exports (issue #6). `evidence/<pk>/` is the evidence detail view plus
    # DELETE (a tombstone).
    path(
        "evidence/<int:pk>/",
        exports.EvidenceDetailWithDelete.as_view(),
        name="evidence-detail",
    ),
    path("evidence/<int:pk>/custody/", exports.EvidenceCustody.as_view(), name="evidence-custody"),
    path("evidence/<int:pk>/purge/", exports.EvidencePurge.as_view(), name="evidence-purge"),
    path("cases/<int:case_id>/exports/", exports.CaseExports.as_view(), name="case-exports"),
    path("exports/<int:pk>/", exports.ExportDetail.as_view(), name="export-detail"),
    path("exports/<int:pk>/download/", exports.ExportDownload.as_view(), name="export-download"),
    path("evidence/<int:pk>/similar/", views.EvidenceSimilar.as_view(), name="evidence-similar"),
    path("evidence/<int:pk>/original/", views.EvidenceOriginal.as_view(), name="evidence-original"),
    path(
        "evidence/<int:pk>/thumbnail/",
        views.EvidenceThumbnail.as_view(),
        name="evidence-thumbnail",
    ),
    path("evidence/<int:pk>/preview/", views.EvidencePreview.as_view(), name="evidence-preview"),
    path(
        "evidence/<int:pk>/reprocess/",
        views.EvidenceReprocess.as_view(),
        name="evidence-reprocess",
    ),
    path(
        "evidence/<int:pk>/comments/",
        views.EvidenceComments.as_view(),
        name="evidence-comments",
    ),
    path("claims/<int:pk>/", views.ClaimDetail.as_view(), name="claim-detail"),
    path("claims/<int:pk>/links/", views.ClaimLinks.as_view(), name="claim-links"),
    path("claims/<int:pk>/submit/", views.ClaimSubmit.as_view(), name="claim-submit"),
    path("claims/<int:pk>/review/", views.ClaimReview.as_view(), name="claim-review"),
    path("claims/<int:pk>/history/", views.ClaimHistory.as_view(), name="claim-history"),
    path("claims/<int:pk>/comments/", views.ClaimComments.as_view(), name="claim-comments"),
    path("links/<int:pk>/", views.LinkDetail.as_view(), name="link-detail"),
    path("comments/<int:pk>/", views.CommentDetail.as_view(), name="comment-detail"),
    # Last: a JSON 404 for anything else under v1/.
    re_path(r"^.*$", views.NotFoundView.as_view(), name="not-found"),
]

urlpatterns = [
    path("v1/", include(v1)),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
]
