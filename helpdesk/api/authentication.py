"""Authorization: Bearer <token> (RFC 6750) with a personal API token."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from helpdesk.api.tokens import token_check


class BearerTokenAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != b"bearer":
            return None  # not ours: the session may still authenticate
        if len(parts) != 2:
            raise AuthenticationFailed(_("The Authorization header must be: Bearer <token>."))
        try:
            secret = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise AuthenticationFailed(_("This token is invalid, expired or revoked.")) from None
        token = token_check(secret)
        if token is None:
            raise AuthenticationFailed(_("This token is invalid, expired or revoked."))
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        # Its presence makes DRF answer 401 (with this challenge), not 403.
        return 'Bearer realm="api"'
