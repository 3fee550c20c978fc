"""The desk's API: one's notifications, assignments, and an editor's review inbox."""

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from api import serializers
from api.views.base import ObjectChildView, ThrottleRefusals
from cases.selectors import claim_for_user
from evidence.desk import review_inbox
from evidence.models import Notification
from evidence.selectors import evidence_for_user
from evidence.services.assignments import work_assign
from evidence.services.notifications import (
    notifications_mark_read,
    notifications_of,
    notifications_rendered,
    unread_count,
)


class NotificationList(ThrottleRefusals, generics.ListAPIView):
    """Your notifications, newest first (mentions, assignments), each in words as you may read
    it, with the page it is about. `?unread=true` lists only those not read yet (its `count`
    is the unread count)."""

    serializer_class = serializers.NotificationSerializer
    permission_classes = [IsAuthenticated]
    filterset_class = None
    ordering_fields = None
    metadata_class = None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Notification.objects.none()
        rows = notifications_of(user=self.request.user)
        if self.request.query_params.get("unread") in ("true", "1"):
            rows = rows.filter(read_at__isnull=True)
        return rows

    @extend_schema(tags=["notifications"])
    def get(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        rows = notifications_rendered(page, user=request.user, via="api")
        return self.get_paginated_response(
            serializers.NotificationSerializer(rows, many=True, context={"request": request}).data
        )


class NotificationsRead(ThrottleRefusals, APIView):
    """Mark your notifications read: those of `ids`, or all of them when `ids` is left out."""

    permission_classes = [IsAuthenticated]
    metadata_class = None

    @extend_schema(
        request=serializers.NotificationsReadSerializer,
        responses={200: serializers.NotificationsReadResultSerializer},
        tags=["notifications"],
    )
    def post(self, request):
        data = serializers.NotificationsReadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        marked = notifications_mark_read(user=request.user, ids=data.validated_data.get("ids"))
        return Response({"marked": marked, "unread": unread_count(user=request.user)})


class _Assign(ObjectChildView):
    actions = {"POST": "work.assign"}
    http_method_names = ["post", "options"]

    @extend_schema(
        request=serializers.AssignSerializer,
        responses={200: serializers.AssignmentSerializer},
        tags=["assignments"],
    )
    def post(self, request, pk):
        target = self.get_parent()
        data = serializers.AssignSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        name = data.validated_data["assignee"]
        assignee = None
        if name:
            assignee = get_user_model().objects.filter(username=name, is_active=True).first()
            if assignee is None:
                raise ValidationError({"assignee": ["Only a member of this case can be assigned."]})
        work_assign(actor=request.user, target=target, assignee=assignee)
        return Response({"assignee": assignee.username if assignee else None})


class ClaimAssign(_Assign):
    """Assign the claim to a member of its case (`assignee`: a username), or end its assignment
    (null). The assignee is notified."""

    serializer_class = serializers.AssignSerializer

    def fetch_parent(self, pk):
        return claim_for_user(user=self.request.user, claim_id=pk)


class EvidenceAssign(_Assign):
    """Assign the item to a member of its case (`assignee`: a username), or end its assignment
    (null). The assignee is notified."""

    serializer_class = serializers.AssignSerializer

    def fetch_parent(self, pk):
        return evidence_for_user(user=self.request.user, evidence_id=pk)


class ReviewInbox(ThrottleRefusals, APIView):
    """The claims waiting for your review in every case where you are an editor or owner,
    oldest first, each with its corroboration summary and the flags of its evidence (claims
    you wrote are left out: another editor reviews them)."""

    permission_classes = [IsAuthenticated]
    metadata_class = None

    @extend_schema(
        responses={200: serializers.ReviewInboxItemSerializer(many=True)}, tags=["claims"]
    )
    def get(self, request):
        rows = review_inbox(request=request, via="api")
        return Response(
            serializers.ReviewInboxItemSerializer(rows, many=True).data, status=status.HTTP_200_OK
        )
