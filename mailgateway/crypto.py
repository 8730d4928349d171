"""Encryption at rest for mailbox credentials (passwords, OAuth secrets and tokens).

The key is derived from SECRET_KEY with HKDF, so a stolen database alone does not
reveal the credentials. Rotating SECRET_KEY keeps working: values written under a
key listed in SECRET_KEY_FALLBACKS still decrypt, and are re-encrypted under the
current key the next time they are saved.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

_INFO = b"helpdesk mailgateway credentials v1"


class SecretUnreadable(Exception):
    """The stored value was encrypted under a key we no longer have."""


def _fernet(secret_key: str) -> Fernet:
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(raw))


def _keys() -> MultiFernet:
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet([_fernet(key) for key in keys])


def encrypt(plaintext: str) -> str:
    """An opaque token for the database; the empty string stays empty."""
    if not plaintext:
        return ""
    return _keys().encrypt(plaintext.encode()).decode("ascii")


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return _keys().decrypt(token.encode("ascii")).decode()
    except (InvalidToken, ValueError):
        raise SecretUnreadable(
            "a stored credential cannot be decrypted (was SECRET_KEY changed without "
            "keeping the old one in SECRET_KEY_FALLBACKS?); enter it again in the admin"
        ) from None
