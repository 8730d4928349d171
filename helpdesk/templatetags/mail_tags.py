"""The thread's mail entries: their HTML with pasted images, their files."""

from __future__ import annotations

from typing import Any

from django import template

from helpdesk import mail_display

register = template.Library()


@register.filter
def mail_srcdoc(message: Any) -> str:
    """The message's HTML for its srcdoc frame, pasted images (cid:) loaded
    from this message's own files through the inline view. Autoescaped into
    the attribute by the template: the frame parses it back."""
    return mail_display.frame_html(message)


@register.filter
def has_remote_images(message: Any) -> bool:
    return mail_display.has_remote_images(message)


@register.filter
def mail_files(message: Any) -> mail_display.Files:
    return mail_display.message_files(message)


@register.filter
def inline_url(attachment: Any) -> str:
    return mail_display.inline_url(attachment)
