"""Comments on claims and on evidence."""

from drf_spectacular.utils import extend_schema
from rest_framework import status

from api import serializers
from api.views.base import ListMixin, ObjectChildView
from cases.models import Claim
from cases.selectors import claim_for_user
from evidence.models import Comment, Evidence
from evidence.selectors import comment_for_user, comments_on, evidence_for_user
from evidence.services import comments as comment_services


class _CommentList(ListMixin, ObjectChildView):
    serializer_class = serializers.CommentSerializer
    actions = {"POST": "comment.add"}
    ordering_fields = ["id", "created_at"]
    ordering = ["created_at", "id"]
    target = ""

    def get_queryset(self):
        if self.fake():
            return Comment.objects.none()
        return comments_on(**{self.target: self.get_parent()})

    @extend_schema(
        request=serializers.CommentWriteSerializer,
        responses={201: serializers.CommentSerializer},
    )
    def post(self, request, pk):
        parent = self.get_parent()
        data = self.parse(serializers.CommentWriteSerializer)
        comment = comment_services.comment_create(
            actor=request.user, text=data["text"], **{self.target: parent}
        )
        return self.render(serializers.CommentSerializer, comment, code=status.HTTP_201_CREATED)


class ClaimComments(_CommentList):
    target = "claim"

    def fetch_parent(self, pk) -> Claim:
        return claim_for_user(user=self.request.user, claim_id=pk)


class EvidenceComments(_CommentList):
    target = "evidence"

    def fetch_parent(self, pk) -> Evidence:
        return evidence_for_user(user=self.request.user, evidence_id=pk)


class CommentDetail(ObjectChildView):
    serializer_class = serializers.CommentSerializer
    actions = {"PATCH": "comment.edit"}
    http_method_names = ["get", "patch", "head", "options"]

    def fetch_parent(self, pk) -> Comment:
        return comment_for_user(user=self.request.user, comment_id=pk)

    def get(self, request, pk):
        return self.render(serializers.CommentSerializer, self.get_parent())

    @extend_schema(request=serializers.CommentWriteSerializer)
    def patch(self, request, pk):
        comment = self.get_parent()
        data = self.parse(serializers.CommentWriteSerializer)
        comment = comment_services.comment_edit(
            actor=request.user, comment=comment, text=data["text"]
        )
        return self.render(serializers.CommentSerializer, comment)
