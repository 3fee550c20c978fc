"""Cases, their members and their activity record."""

from django.contrib.auth import get_user_model
from django.db.models import OuterRef, Subquery
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.response import Response

from api import filters, serializers
from api.views.base import CaseChildView, CaseScopedView, ListMixin, as_id
from cases import services as case_services
from cases.models import Activity, Case, Membership
from cases.selectors import activity_of, case_for_user, cases_visible_to, members_of


class CaseList(CaseScopedView, generics.ListAPIView):
    serializer_class = serializers.CaseSerializer
    filterset_class = filters.CaseFilter
    ordering_fields = ["created_at", "updated_at", "title", "id"]
    ordering = ["-created_at", "-id"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Case.objects.none()
        user = self.request.user
        my_role = Membership.objects.filter(case=OuterRef("pk"), user=user).values("role")[:1]
        return (
            cases_visible_to(user).select_related("created_by").annotate(my_role=Subquery(my_role))
        )

    @extend_schema(
        request=serializers.CaseCreateSerializer, responses={201: serializers.CaseSerializer}
    )
    def post(self, request):
        data = self.parse(serializers.CaseCreateSerializer)
        case = case_services.case_create(actor=request.user, **data)
        return self.render(
            serializers.CaseSerializer, self.checked(case), code=status.HTTP_201_CREATED
        )


class CaseDetail(CaseScopedView):
    serializer_class = serializers.CaseSerializer
    actions = {"PATCH": "case.update"}
    http_method_names = ["get", "patch", "head", "options"]

    def get_object(self) -> Case:
        return self.checked(case_for_user(user=self.request.user, case_id=self.kwargs["case_id"]))

    def get(self, request, case_id):
        return self.render(serializers.CaseSerializer, self.get_object())

    @extend_schema(request=serializers.CaseUpdateSerializer)
    def patch(self, request, case_id):
        case = self.get_object()
        data = self.parse(serializers.CaseUpdateSerializer, partial=True)
        case = case_services.case_update(actor=request.user, case=case, **data)
        return self.render(serializers.CaseSerializer, case)


class MemberList(ListMixin, CaseChildView):
    serializer_class = serializers.MemberSerializer
    actions = {"POST": "member.manage"}
    ordering_fields = ["created_at", "role"]
    filterset_class = None
    ordering = ["user__username"]

    def get_queryset(self):
        if self.fake():
            return Membership.objects.none()
        return members_of(case=self.get_case()).select_related("added_by")

    @extend_schema(
        request=serializers.MemberAddSerializer, responses={201: serializers.MemberSerializer}
    )
    def post(self, request, case_id):
        case = self.get_case()
        data = self.parse(serializers.MemberAddSerializer)
        user = get_user_model().objects.filter(username=data["username"]).first()
        if user is None:
            raise exceptions.ValidationError({"username": ["No account has this username."]})
        membership = case_services.membership_add(
            actor=request.user, case=case, user=user, role=data["role"]
        )
        return self.render(serializers.MemberSerializer, membership, code=status.HTTP_201_CREATED)


class MemberDetail(CaseChildView):
    serializer_class = serializers.MemberSerializer
    actions = {
        "GET": "member.manage",
        "PATCH": "member.manage",
        "DELETE": "member.manage",
    }
    http_method_names = ["patch", "delete", "options"]

    def get_object(self) -> Membership:
        case = self.get_case()
        membership = (
            members_of(case=case)
            .select_related("added_by")
            .filter(user_id=as_id(self.kwargs["user_id"]))
            .first()
        )
        if membership is None:
            raise Http404("This person is not a member of this case.")
        membership.case = case  # the same instance: its cached role serves the service's check
        return membership

    @extend_schema(request=serializers.MemberChangeSerializer)
    def patch(self, request, case_id, user_id):
        membership = self.get_object()
        data = self.parse(serializers.MemberChangeSerializer)
        membership = case_services.membership_change(
            actor=request.user, membership=membership, role=data["role"]
        )
        return self.render(serializers.MemberSerializer, membership)

    @extend_schema(responses={204: None})
    def delete(self, request, case_id, user_id):
        membership = self.get_object()
        case_services.membership_remove(actor=request.user, membership=membership)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ActivityList(ListMixin, CaseChildView):
    serializer_class = serializers.ActivitySerializer
    filterset_class = filters.ActivityFilter
    ordering_fields = ["id", "created_at"]
    ordering = ["-id"]

    def get_queryset(self):
        if self.fake():
            return Activity.objects.none()
        return activity_of(case=self.get_case())

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        context = self.get_serializer_context()
        page = context["reader"].activity(page)
        rows = serializers.ActivitySerializer(page, many=True, context=context).data
        return self.get_paginated_response(rows)
