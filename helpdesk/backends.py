from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from helpdesk.models import User, normalize_email_address


class EmailBackend(ModelBackend):
    """Log in by email address, whatever its case."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        email = username or kwargs.get("email")
        if not email or not password:
            return None
        try:
            user = User.objects.get(email=normalize_email_address(email))
        except User.DoesNotExist:
            # Run the hasher anyway so timing does not reveal which emails exist.
            User().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
