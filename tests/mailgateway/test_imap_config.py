"""Mailbox configuration: HELPDESK_IMAP_URL, encrypted secrets, the admin."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from mailgateway import crypto
from mailgateway.mailboxes import Mailbox, imap_url_settings


def test_it_parses_imap_urls() -> None:
    url = imap_url_settings("imaps://help%40acme.com:p%40ss:w@imap.acme.com/Caixa%20de%20Entrada")
    assert (url.host, url.port, url.security) == ("imap.acme.com", 993, "ssl")
    assert (url.username, url.password, url.folder) == (
        "help@acme.com",
        "p@ss:w",
        "Caixa de Entrada",
    )
    assert url.action == "move" and url.move_to == "Processed"

    plain = imap_url_settings("imap://u:p@127.0.0.1:10143/?security=none&action=seen")
    assert (plain.port, plain.security, plain.folder, plain.action) == (
        10143,
        "none",
        "INBOX",
        "seen",
    )
    assert imap_url_settings("imap://u:p@h/INBOX").security == "starttls"


@pytest.mark.parametrize(
    "url", ["pop3://u:p@h/", "imap:///INBOX", "imap://u:p@h/?action=burn", "imap://u:p@h:x/"]
)
def test_a_bad_imap_url_is_a_clear_error(url: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="HELPDESK_IMAP_URL"):
        imap_url_settings(url)


def test_secrets_are_encrypted_and_survive_key_rotation(settings: Any) -> None:
    token = crypto.encrypt("hunter2")
    assert "hunter2" not in token and crypto.decrypt(token) == "hunter2"
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a-brand-new-key" * 4, [old_key]
    assert crypto.decrypt(token) == "hunter2"
    settings.SECRET_KEY_FALLBACKS = []
    with pytest.raises(crypto.SecretUnreadable):
        crypto.decrypt(token)


@pytest.mark.django_db
def test_the_admin_takes_secrets_but_never_shows_them(admin_user: Any, client: Any) -> None:
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save()
    client.force_login(admin_user)
    form = {
        "name": "suporte",
        "is_active": "on",
        "host": "imap.example.com",
        "port": "993",
        "security": "ssl",
        "username": "suporte@example.com",
        "auth_method": "password",
        "password": "Sup3r-Secret-Pw",
        "secret_env": "",
        "oauth_flow": "client_credentials",
        "folder": "INBOX",
        "action": "move",
        "move_to": "Processed",
    }
    response = client.post("/admin/mailgateway/mailbox/add/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    box = Mailbox.objects.get(name="suporte")
    assert box.password() == "Sup3r-Secret-Pw"
    assert "Sup3r-Secret-Pw" not in box.password_encrypted

    page = client.get(f"/admin/mailgateway/mailbox/{box.pk}/change/").content.decode()
    assert "Sup3r-Secret-Pw" not in page and box.password_encrypted not in page
    listing = client.get("/admin/mailgateway/mailbox/").content.decode()
    assert "suporte@example.com" in listing

    # Saving without typing the password again keeps it.
    response = client.post(
        f"/admin/mailgateway/mailbox/{box.pk}/change/",
        {**form, "password": "", "folder": "Suporte"},
    )
    assert response.status_code == 302
    box.refresh_from_db()
    assert box.folder == "Suporte" and box.password() == "Sup3r-Secret-Pw"

    # OAuth without a client id is refused with a message, not a crash.
    response = client.post(
        "/admin/mailgateway/mailbox/add/",
        {**form, "name": "o365", "auth_method": "xoauth2", "oauth_token_url": ""},
    )
    assert response.status_code == 200
    assert "oauth_token_url" in response.context["adminform"].form.errors
    assert not Mailbox.objects.filter(name="o365").exists()
