"""Signing in and out of the API, and one's own tokens."""

from datetime import timedelta

from django.contrib.auth import authenticate, logout
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from api import serializers
from api.params import KnownParams
from api.throttles import LoginThrottle
from api.views.base import ThrottleRefusals, as_id
from cases.models import ApiToken
from cases.tokens import (
    REVOKED_AT_LOGOUT,
    REVOKED_AT_LOGOUT_ALL,
    REVOKED_BY_OWNER,
    token_create,
    token_revoke,
    tokens_of,
    tokens_revoke_all,
)


class TokenCreateView(KnownParams, APIView):
    """Exchange a username and password for an API token."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginThrottle]

    @extend_schema(
        request=serializers.TokenRequestSerializer,
        responses={201: serializers.TokenSerializer},
        auth=[],
        tags=["auth"],
    )
    def post(self, request):
        data = serializers.TokenRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        # With Django's own request (not DRF's wrapper), so that the login lockout
        # (django-axes) counts the attempt and flags the request its middleware answers 429 to.
        user = authenticate(
            request=request._request,
            username=data.validated_data["username"],
            password=data.validated_data["password"],
        )
        if user is None or not user.is_active:
            return Response(
                {"detail": "Unable to sign in with this username and password."},
                status=status.HTTP_400_BAD_REQUEST,
            )
        given = data.validated_data
        seconds = given.get("expires_in")
        token, key = token_create(
            user=user,
            name=given.get("name", ""),
            scope=given["scope"],
            cases=given.get("cases"),
            expires_in=None if seconds is None else timedelta(seconds=seconds),
        )
        return Response(
            {
                "token": key,
                "prefix": token.prefix,
                "expires": token.expires,
                "scope": token.scope,
                "cases": None if token.all_cases else sorted(token.case_ids),
            },
            status=status.HTTP_201_CREATED,
        )


class LogoutView(KnownParams, ThrottleRefusals, APIView):
    """Revoke the token this request was made with (or all of yours); end a browser session."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=serializers.LogoutSerializer, responses={204: None}, tags=["auth"])
    def post(self, request):
        data = serializers.LogoutSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if data.validated_data["all"]:
            tokens_revoke_all(user=request.user, actor=request.user, reason=REVOKED_AT_LOGOUT_ALL)
        elif isinstance(request.auth, ApiToken):
            token_revoke(token=request.auth, actor=request.user, reason=REVOKED_AT_LOGOUT)
        if request.auth is None:
            logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenList(KnownParams, ThrottleRefusals, generics.ListAPIView):
    """Your live tokens (prefix, name, when created, last used, expiring)."""

    serializer_class = serializers.ApiTokenSerializer
    permission_classes = [IsAuthenticated]
    filterset_class = None
    ordering_fields = ["created", "last_used", "expires"]
    ordering = ["-created", "-id"]
    metadata_class = None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ApiToken.objects.none()
        return tokens_of(user=self.request.user)

    @extend_schema(tags=["auth"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class TokenDetail(KnownParams, ThrottleRefusals, APIView):
    """Revoke one of your tokens (a lost laptop, a leaked script): any other id is 404."""

    permission_classes = [IsAuthenticated]
    metadata_class = None

    @extend_schema(responses={204: None}, tags=["auth"])
    def delete(self, request, pk):
        token = tokens_of(user=request.user).filter(pk=as_id(pk)).first()
        if token is None:
            raise Http404("You have no live token with this id.")
        token_revoke(token=token, actor=request.user, reason=REVOKED_BY_OWNER)
        return Response(status=status.HTTP_204_NO_CONTENT)
