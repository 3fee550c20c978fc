from django.contrib import admin

from cases.models import (
    AccountActivity,
    Activity,
    ActivityCheckpoint,
    ApiToken,
    Case,
    Claim,
    ClaimTransition,
    Membership,
)
from cases.tokens import REVOKED_IN_ADMIN, token_revoke


class ReadOnlyAdmin(admin.ModelAdmin):
    """For records that must never change: they are written by services, never by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user", "added_by"]


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    list_display = ["title", "status", "created_by", "created_at"]
    list_filter = ["status"]
    search_fields = ["title", "summary"]
    readonly_fields = ["created_by", "created_at", "updated_at"]
    inlines = [MembershipInline]

    def has_delete_permission(self, request, obj=None):
        # A case is closed or archived, never deleted: its activity record (which the database
        # keeps append-only, and which protects the case row) would have to go with it.
        return False


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["case", "user", "role", "created_at"]
    list_filter = ["role"]
    raw_id_fields = ["case", "user", "added_by"]


class ClaimTransitionInline(admin.TabularInline):
    model = ClaimTransition
    extra = 0
    can_delete = False
    readonly_fields = ["from_status", "to_status", "actor", "note", "created_at"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Claim)
class ClaimAdmin(admin.ModelAdmin):
    list_display = ["statement", "case", "status", "author", "reviewer"]
    list_filter = ["status"]
    search_fields = ["statement", "details"]
    # The status moves only through the review workflow, never by hand.
    readonly_fields = ["case", "status", "author", "reviewer", "reviewed_at", "review_note"]
    inlines = [ClaimTransitionInline]


@admin.register(ClaimTransition)
class ClaimTransitionAdmin(ReadOnlyAdmin):
    list_display = ["claim", "from_status", "to_status", "actor", "created_at"]


@admin.register(Activity)
class ActivityAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "case", "actor", "verb", "target_type", "target_label"]
    list_filter = ["verb", "target_type"]
    search_fields = ["verb", "target_label"]


@admin.register(ActivityCheckpoint)
class ActivityCheckpointAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "case", "rows", "reason", "key_fingerprint"]
    list_filter = ["reason"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are issued through the API and only ever revoked, never edited or deleted: the
    row keeps when it was revoked. Only the key's hash is stored."""

    list_display = ["prefix", "user", "name", "created", "expires", "last_used", "revoked"]
    list_filter = [("revoked", admin.EmptyFieldListFilter), "expires"]
    search_fields = ["user__username", "prefix", "name"]
    readonly_fields = [
        "user",
        "name",
        "prefix",
        "key_hash",
        "created",
        "expires",
        "last_used",
        "revoked",
    ]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Revoke the selected tokens", permissions=["change"])
    def revoke(self, request, queryset):
        revoked = sum(
            token_revoke(token=token, actor=request.user, reason=REVOKED_IN_ADMIN)
            for token in queryset.filter(revoked__isnull=True).select_related("user")
        )
        self.message_user(request, f"Revoked {revoked} token(s); each revocation is recorded.")


@admin.register(AccountActivity)
class AccountActivityAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "user", "actor", "verb", "data"]
    list_filter = ["verb"]
    search_fields = ["user__username", "verb"]
