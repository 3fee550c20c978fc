from django.contrib import admin

from cases.admin import ReadOnlyAdmin
from evidence.models import (
    Comment,
    CommentRevision,
    Evidence,
    EvidenceLink,
    Photo,
    PhotoFlag,
    PhotoMatch,
    Source,
)


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ["__str__", "case", "kind", "protected", "reliability"]
    list_filter = ["kind", "protected", "reliability"]
    readonly_fields = ["case", "created_by", "created_at", "updated_at"]


class PhotoInline(admin.StackedInline):
    model = Photo
    can_delete = False
    readonly_fields = [f.name for f in Photo._meta.fields if f.name != "evidence"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Evidence)
class EvidenceAdmin(admin.ModelAdmin):
    list_display = ["__str__", "case", "kind", "source", "collected_by", "created_at"]
    list_filter = ["kind", "sensitive"]
    search_fields = ["title", "description", "original_name", "sha256", "url"]
    # The file and what identifies it never change after ingest.
    readonly_fields = [
        "case",
        "kind",
        "collected_by",
        "original",
        "original_name",
        "sha256",
        "size",
        "content_type",
        "created_at",
        "updated_at",
    ]
    inlines = [PhotoInline]


@admin.register(Photo)
class PhotoAdmin(ReadOnlyAdmin):
    list_display = ["evidence", "status", "taken_at", "camera_make", "camera_model"]
    list_filter = ["status"]


@admin.register(PhotoFlag)
class PhotoFlagAdmin(ReadOnlyAdmin):
    list_display = ["photo", "code", "message"]
    list_filter = ["code"]


@admin.register(PhotoMatch)
class PhotoMatchAdmin(ReadOnlyAdmin):
    list_display = ["photo_a", "photo_b", "distance", "cross_source"]


@admin.register(EvidenceLink)
class EvidenceLinkAdmin(admin.ModelAdmin):
    list_display = ["evidence", "claim", "stance", "created_by", "created_at"]
    list_filter = ["stance"]
    readonly_fields = ["evidence", "claim", "created_by", "created_at"]


class CommentRevisionInline(admin.TabularInline):
    model = CommentRevision
    extra = 0
    can_delete = False
    readonly_fields = ["text", "created_at"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = ["__str__", "case", "author", "created_at", "edited_at"]
    readonly_fields = ["case", "claim", "evidence", "author", "text", "created_at", "edited_at"]
    inlines = [CommentRevisionInline]
