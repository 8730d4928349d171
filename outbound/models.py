"""What the helpdesk sends, and to whom it must not."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class BouncingAddress(models.Model):
    """A recipient whose mail bounced: nothing more is sent to it until cleared."""

    email = models.EmailField(_("email address"), unique=True)
    reason = models.TextField(_("reason"), blank=True)
    bounces = models.PositiveIntegerField(_("bounces"), default=1)
    first_bounced_at = models.DateTimeField(_("first bounce"), auto_now_add=True)
    last_bounced_at = models.DateTimeField(_("last bounce"), auto_now=True)

    class Meta:
        verbose_name = _("bouncing address")
        verbose_name_plural = _("bouncing addresses")

    def __str__(self) -> str:
        return self.email
