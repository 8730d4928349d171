"""The reply box's formatted entries on the ticket page."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from mailgateway.sanitize import SanitizeError, fill_inline_images, sanitize_stored

register = template.Library()


@register.filter
def formatted_html(message: Any) -> SafeString:
    """What an agent wrote in the reply box, as HTML for the page: sanitised
    again as it is shown (it was when stored), its inline images loaded from
    their download URLs (which check the viewer's rights)."""
    try:
        clean = sanitize_stored(getattr(message, "shown_html", "") or "")
    except SanitizeError:
        return mark_safe("")
    sources = {
        a.content_id: reverse("attachment_download", args=[a.pk])
        for a in getattr(message, "attachment_list", ())
        if a.is_inline and a.content_id
    }
    return mark_safe(fill_inline_images(clean, sources))  # noqa: S308 - sanitised above
