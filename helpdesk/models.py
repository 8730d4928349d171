"""People: the custom user whose login is the email address."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from helpdesk.roles import STAFF_ROLES, Role


def normalize_email_address(email: str) -> str:
    """One spelling per mailbox: logins and lookups are case-insensitive."""
    return email.strip().lower()


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email__iexact=normalize_email_address(username or ""))

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=normalize_email_address(email), **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("role", Role.ADMIN)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(_("email address"), unique=True)
    full_name = models.CharField(_("full name"), max_length=150, blank=True)
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.CUSTOMER)
    language = models.CharField(
        _("preferred language"), max_length=8, choices=settings.LANGUAGES, default="pt-br"
    )
    time_zone = models.CharField(_("time zone"), max_length=64, default="America/Sao_Paulo")
    is_available = models.BooleanField(
        _("available"),
        default=True,
        help_text=_("Available agents receive new-ticket notifications and assignments."),
    )
    signature = models.TextField(_("signature"), blank=True)
    # False only between a web sign-up and the click on its verification link;
    # accounts made from mail, by staff or by seed_demo are taken as verified.
    email_verified = models.BooleanField(_("email verified"), default=True)
    is_active = models.BooleanField(_("active"), default=True)
    # Derived from the role on save; Django's admin reads it.
    is_staff = models.BooleanField(_("staff status"), default=False, editable=False)
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)

    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = ["full_name"]

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_ci_unique")]
        indexes = [models.Index(fields=["role", "is_active"])]

    def __str__(self) -> str:
        return f"{self.full_name} <{self.email}>" if self.full_name else self.email

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.email = normalize_email_address(self.email)
        self.is_staff = self.role in STAFF_ROLES
        self.is_superuser = self.role == Role.ADMIN
        super().save(*args, **kwargs)

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return (self.full_name or self.email).split()[0]

    @property
    def is_agent(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def is_customer(self) -> bool:
        return self.role == Role.CUSTOMER


class SavedView(models.Model):
    """A named ticket-list filter set (the list's query string), personal or shared."""

    name = models.CharField(_("name"), max_length=80)
    querystring = models.CharField(_("filters"), max_length=1000, blank=True)
    owner = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="saved_views", verbose_name=_("owner")
    )
    shared = models.BooleanField(
        _("shared"), default=False, help_text=_("Shared views are offered to every agent.")
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering: ClassVar = ["name", "id"]
        verbose_name = _("saved view")
        verbose_name_plural = _("saved views")
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["owner", "name"], name="savedview_owner_name_unique")
        ]

    def __str__(self) -> str:
        return self.name
