"""The HTML door: pages, forms and htmx partials."""

from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from config.limits import accepts_videos
from web.views import (
    accounts,
    captures,
    cases,
    claims,
    custody,
    desk,
    evidence,
    imports,
    overview,
    search,
    sources,
    tokens,
    videos,
    webhooks,
)

app_name = "web"

urlpatterns = [
    path("login/", accounts.LoginView.as_view(), name="login"),
    path(
        "logout/", auth_views.LogoutView.as_view(next_page=reverse_lazy("web:login")), name="logout"
    ),
    path("password/change/", accounts.PasswordChangeView.as_view(), name="password_change"),
    path(
        "password/change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("password/reset/", accounts.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password/reset/<uidb64>/<token>/",
        accounts.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("", cases.case_list, name="case_list"),
    path("cases/new/", cases.case_new, name="case_new"),
    # Scripts (issue #17): tokens, webhooks, bulk import.
    path("account/tokens/", tokens.token_list, name="token_list"),
    path("account/tokens/<int:token_id>/revoke/", tokens.token_revoke_view, name="token_revoke"),
    path("cases/<int:case_id>/webhooks/", webhooks.webhook_list, name="webhook_list"),
    path(
        "cases/<int:case_id>/webhooks/<int:webhook_id>/",
        webhooks.webhook_detail,
        name="webhook_detail",
    ),
    path("cases/<int:case_id>/import/", imports.bulk_import, name="bulk_import"),
    path("search/", search.search_page, name="search"),
    path("search/quick/", search.search_quick, name="search_quick"),
    path("search/image/", search.search_image, name="search_image"),
    path("cases/<int:case_id>/", cases.case_dashboard, name="case_dashboard"),
    path("cases/<int:case_id>/edit/", cases.case_edit, name="case_edit"),
    path("cases/<int:case_id>/members/add/", cases.member_add, name="member_add"),
    path(
        "cases/<int:case_id>/members/<int:membership_id>/role/",
        cases.member_change,
        name="member_change",
    ),
    path(
        "cases/<int:case_id>/members/<int:membership_id>/remove/",
        cases.member_remove,
        name="member_remove",
    ),
    path("cases/<int:case_id>/evidence/", evidence.evidence_gallery, name="evidence_gallery"),
    path(
        "cases/<int:case_id>/evidence/upload/",
        accepts_videos(evidence.evidence_upload),
        name="evidence_upload",
    ),
    path(
        "cases/<int:case_id>/evidence/new/<str:kind>/", evidence.evidence_new, name="evidence_new"
    ),
    path("cases/<int:case_id>/evidence/bulk/", evidence.evidence_bulk, name="evidence_bulk"),
    path("cases/<int:case_id>/activity/", desk.case_activity, name="case_activity"),
    path("notifications/", desk.notifications, name="notifications"),
    path("notifications/count/", desk.notifications_count, name="notifications_count"),
    path("review/", desk.review_inbox_page, name="review_inbox"),
    path("claims/<int:claim_id>/assign/", desk.claim_assign, name="claim_assign"),
    path("evidence/<int:evidence_id>/assign/", desk.evidence_assign, name="evidence_assign"),
    path("cases/<int:case_id>/compare/", overview.photo_compare, name="photo_compare"),
    path("cases/<int:case_id>/claims/", claims.claim_board, name="claim_board"),
    path("cases/<int:case_id>/claims/new/", claims.claim_new, name="claim_new"),
    path("cases/<int:case_id>/sources/", sources.source_list, name="source_list"),
    path("cases/<int:case_id>/timeline/", overview.timeline, name="timeline"),
    path("cases/<int:case_id>/map/", overview.case_map, name="case_map"),
    path("evidence/<int:evidence_id>/", evidence.evidence_detail, name="evidence_detail"),
    path("evidence/<int:evidence_id>/card/", evidence.evidence_card, name="evidence_card"),
    path("evidence/<int:evidence_id>/edit/", evidence.evidence_edit, name="evidence_edit"),
    path(
        "evidence/<int:evidence_id>/thumbnail/",
        evidence.photo_derivative,
        {"which": "thumbnail"},
        name="photo_thumbnail",
    ),
    path(
        "evidence/<int:evidence_id>/preview/",
        evidence.photo_derivative,
        {"which": "preview"},
        name="photo_preview",
    ),
    path(
        "evidence/<int:evidence_id>/original/", evidence.evidence_original, name="evidence_original"
    ),
    # A video's files and keyframes (issue #15).
    path("evidence/<int:evidence_id>/video/<str:which>/", videos.video_file, name="video_file"),
    path(
        "evidence/<int:evidence_id>/keyframes/<int:index>/",
        videos.keyframe_file,
        {"size": "image"},
        name="video_keyframe",
    ),
    path(
        "evidence/<int:evidence_id>/keyframes/<int:index>/thumbnail/",
        videos.keyframe_file,
        {"size": "thumbnail"},
        name="video_keyframe_thumbnail",
    ),
    path("evidence/<int:evidence_id>/retry/", evidence.photo_retry, name="photo_retry"),
    path(
        "evidence/<int:evidence_id>/use-camera/",
        evidence.evidence_use_camera,
        name="evidence_use_camera",
    ),
    path("evidence/<int:evidence_id>/comment/", evidence.evidence_comment, name="evidence_comment"),
    # Link capture (issue #16).
    path("evidence/<int:evidence_id>/capture/", captures.capture_again, name="capture_again"),
    path(
        "evidence/<int:evidence_id>/captures/<int:capture_id>/page/",
        captures.capture_html,
        name="capture_html",
    ),
    path(
        "evidence/<int:evidence_id>/captures/<int:capture_id>/files/<name>",
        captures.capture_file,
        name="capture_file",
    ),
    path("claims/<int:claim_id>/", claims.claim_detail, name="claim_detail"),
    path("claims/<int:claim_id>/edit/", claims.claim_edit, name="claim_edit"),
    path("claims/<int:claim_id>/link/", claims.claim_link, name="claim_link"),
    path(
        "claims/<int:claim_id>/link-options/", claims.claim_link_options, name="claim_link_options"
    ),
    path("claims/<int:claim_id>/submit/", claims.claim_submit, name="claim_submit"),
    path("claims/<int:claim_id>/review/", claims.claim_review, name="claim_review"),
    path("claims/<int:claim_id>/comment/", claims.claim_comment, name="claim_comment"),
    path("links/<int:link_id>/remove/", claims.link_remove, name="link_remove"),
    path("comments/<int:comment_id>/edit/", claims.comment_edit, name="comment_edit"),
    path("sources/<int:source_id>/edit/", sources.source_edit, name="source_edit"),
    # Chain of custody, deletion and exports (issue #6).
    path("evidence/<int:evidence_id>/custody/", custody.evidence_custody, name="evidence_custody"),
    path("evidence/<int:evidence_id>/delete/", custody.evidence_delete, name="evidence_delete"),
    path("evidence/<int:evidence_id>/purge/", custody.evidence_purge, name="evidence_purge"),
    path("cases/<int:case_id>/exports/", custody.case_exports, name="case_exports"),
    path("exports/<int:export_id>/download/", custody.export_download, name="export_download"),
]
