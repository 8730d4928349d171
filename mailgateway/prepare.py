"""Everything done to a mail before the database is touched.

Parsing, the plain text, the sanitised HTML and the quoted-history split
need only the bytes, so the batch path runs them in worker processes (the
other cores) while the main process writes tickets. The single-mail path
calls prepare() inline: both paths feed the same pipeline the same thing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from types import MappingProxyType

from django.conf import settings

from mailgateway.parse import InboundEmail, parse_email
from mailgateway.quotes import split_reply
from mailgateway.sanitize import SanitizeError, html_to_text, sanitize_html
from mailgateway.tnef import expand_tnef
from tickets.services import StoredFile, attachment_file_delete, attachment_file_save


@dataclass(frozen=True)
class Prepared:
    mail: InboundEmail
    text: str  # the plain text, or the HTML's text for HTML-only mail
    new_text: str  # text without its quoted history and signature
    quoted: str
    html: str  # sanitised; "" when there is none or it could not be sanitised
    html_error: str = ""  # why the HTML was dropped (fail closed)
    # mail.attachments[i] already saved to storage (its payload then b""): the
    # batch path's workers save them, so the bytes never cross to the writer.
    files: tuple[StoredFile, ...] = ()
    quote_rule: str = ""  # which rule of mailgateway.quotes cut the history
    tnef: str = ""  # what became of a winmail.dat (mailgateway.tnef)

    def with_files_saved(self) -> Prepared:
        """A copy whose attachments are saved to storage, payloads dropped."""
        if not self.mail.attachments:
            return self
        files: list[StoredFile] = []
        try:
            for attachment in self.mail.attachments:
                files.append(attachment_file_save(attachment.payload))
        except BaseException:
            for saved in files:
                attachment_file_delete(saved.name)
            raise
        emptied = tuple(dataclasses.replace(a, payload=b"") for a in self.mail.attachments)
        return dataclasses.replace(
            self, mail=dataclasses.replace(self.mail, attachments=emptied), files=tuple(files)
        )

    def portable(self) -> Prepared:
        """A copy that pickles (a MappingProxyType does not), to leave a worker."""
        mail = dataclasses.replace(self.mail, headers=dict(self.mail.headers))
        return dataclasses.replace(self, mail=mail)

    def restored(self) -> Prepared:
        """The worker's copy back with read-only headers."""
        mail = dataclasses.replace(self.mail, headers=MappingProxyType(dict(self.mail.headers)))
        return dataclasses.replace(self, mail=mail)


def prepare(raw: bytes) -> Prepared:
    """Parse raw and derive its texts. Raises what parsing raises (the caller
    quarantines the mail)."""
    mail = parse_email(raw)
    # Before the texts: a winmail.dat may hold the only body the mail has.
    limit = int(getattr(settings, "HELPDESK_MAX_ATTACHMENT_MB", 20)) * 1024 * 1024
    mail, tnef = expand_tnef(mail, max_bytes=limit)
    text = mail.text.strip() or html_to_text(mail.html)
    split = split_reply(text, mail.subject)
    html, error = "", ""
    if mail.html:
        try:
            html = sanitize_html(mail.html)
        except SanitizeError as exc:
            error = f"dropped: {exc}"[:300]
    return Prepared(
        mail, text, split.new, split.quoted, html, error, quote_rule=split.rule, tnef=tnef
    )
