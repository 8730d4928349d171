"""Mail rendering: templates/emails/<name>-subject.txt, -body.txt and
-body.html, overridable by admins in the database, rendered in the
recipient's language, and the one function that turns them into a message."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from email.encoders import encode_base64
from email.mime.base import MIMEBase
from functools import cache
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.message import SafeMIMEMultipart
from django.template import engines
from django.template.backends.django import DjangoTemplates
from django.utils import translation

from outbound.headers import clean_header_text, format_address
from outbound.models import EmailTemplate


class Mail(EmailMultiAlternatives):
    """A notification mail that may show images inline in its HTML part:
    multipart/related around the text and HTML alternatives (RFC 2387), the
    images named by Content-ID, the ordinary attachments around both:
    mixed[related[alternative[text, html], image...], attachment...]."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.related: list[MIMEBase] = []

    def attach_related(self, content: bytes, mimetype: str, content_id: str, name: str) -> None:
        maintype, _, subtype = mimetype.partition("/")
        part = MIMEBase(maintype, subtype or "octet-stream")
        part.set_payload(content)
        encode_base64(part)
        part["Content-ID"] = f"<{content_id}>"
        part.add_header("Content-Disposition", "inline", filename=name)
        self.related.append(part)

    def _create_alternatives(self, msg: Any) -> Any:
        msg = super()._create_alternatives(msg)  # type: ignore[misc]
        if not self.related:
            return msg
        related = SafeMIMEMultipart(
            _subtype="related", encoding=self.encoding or settings.DEFAULT_CHARSET
        )
        related.attach(msg)
        for part in self.related:
            related.attach(part)
        return related


@dataclass(frozen=True)
class Recipient:
    email: str
    name: str = ""
    language: str = ""
    user_id: int | None = None
    is_staff: bool = False


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


@cache
def _text_engine() -> DjangoTemplates:
    # Text parts and subjects are not HTML: escaping them would turn a
    # customer's "R&D" into "R&amp;D" in the mail.
    base = settings.TEMPLATES[0]
    return DjangoTemplates(
        {
            "NAME": "outbound_text",
            "DIRS": base.get("DIRS", []),
            "APP_DIRS": True,
            "OPTIONS": {"autoescape": False},
        }
    )


def _html_engine() -> Any:
    return engines["django"]


def _override(name: str, language: str) -> EmailTemplate | None:
    return EmailTemplate.objects.filter(name=name, language=language).first()


def render_email(
    name: str, ctx: Mapping[str, Any], language: str, *, override: EmailTemplate | None = None
) -> RenderedEmail:
    """Render one notification in language; a stored template (or the one
    given, for the admin's preview) replaces each non-empty part."""
    language = language or settings.LANGUAGE_CODE
    context = dict(ctx)
    with translation.override(language):
        stored = override if override is not None else _override(name, language)
        text_engine, html_engine = _text_engine(), _html_engine()

        def part(source: str, engine: Any, file_name: str) -> str:
            template = (
                engine.from_string(source) if source.strip() else engine.get_template(file_name)
            )
            return str(template.render(context))

        subject = part(stored.subject if stored else "", text_engine, f"emails/{name}-subject.txt")
        text = part(stored.body_text if stored else "", text_engine, f"emails/{name}-body.txt")
        html = part(stored.body_html if stored else "", html_engine, f"emails/{name}-body.html")
    return RenderedEmail(
        subject=clean_header_text(subject, 250), text=text.strip() + "\n", html=html
    )


def make_message(
    name: str,
    to: Recipient,
    ctx: Mapping[str, Any],
    *,
    from_name: str,
    from_email: str,
    reply_to: str = "",
    headers: Mapping[str, str] | None = None,
    connection: Any = None,
) -> Mail:
    """The notification `name` for `to`, text and HTML, ready to send."""
    rendered = render_email(name, {**ctx, "recipient": to}, to.language)
    message = Mail(
        subject=rendered.subject,
        body=rendered.text,
        from_email=format_address(from_name, from_email),
        to=[format_address(to.name, to.email)],
        reply_to=[reply_to] if reply_to else [],
        headers={k: clean_header_text(v, 2000) for k, v in (headers or {}).items()},
        connection=connection,
    )
    message.attach_alternative(rendered.html, "text/html")
    return message
