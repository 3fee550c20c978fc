"""Token authentication against `cases.models.ApiToken` (keys stored hashed)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from cases.tokens import token_authenticate


class TokenAuthentication(BaseAuthentication):
    """`Authorization: Token <key>` (or `Bearer <key>`).

    Listed first among the authentication classes, so that an unauthenticated request is
    answered 401 with `WWW-Authenticate: Token` rather than 403.
    """

    keywords = (b"token", b"bearer")

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in self.keywords:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "Invalid Authorization header: send `Token <key>`."
            )
        try:
            key = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        token = token_authenticate(key=key)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        # The token rides on the user, so that cases.policy narrows the user's role to it in
        # every check a view or a service makes with this user.
        token.user.api_token = token
        return token.user, token

    def authenticate_header(self, request) -> str:
        return "Token"


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = TokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>`, the key from `POST /api/v1/auth/token/`.",
        }
