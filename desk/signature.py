"""X/Twitter webhook cryptography: the CRC challenge answer and delivery signatures.

X signs with HMAC-SHA256 keyed by the app's consumer secret and sends the base64 digest prefixed
by ``sha256=``, both for the CRC ``response_token`` and for the ``x-twitter-webhooks-signature``
header over the raw request body.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
from functools import lru_cache

#: Header X puts the delivery signature in (HTTP headers are case-insensitive).
SIGNATURE_HEADER = "x-twitter-webhooks-signature"


def sign(secret: str | bytes, message: str | bytes) -> str:
    """Return ``"sha256=" + base64(HMAC-SHA256(secret, message))``, as X computes it."""
    msg = message.encode() if isinstance(message, str) else message
    return _signature(secret, msg).decode("ascii")


def crc_response(secret: str | bytes, crc_token: str) -> dict[str, str]:
    """The JSON body answering a CRC challenge: ``{"response_token": sign(secret, token)}``."""
    return {"response_token": sign(secret, crc_token)}


@lru_cache(maxsize=8)
def _keyed(key: bytes) -> hmac.HMAC:
    # HMAC state with the key already absorbed: each signature copies it instead of re-keying
    # (about half the cost on the webhook's hot path).
    return hmac.new(key, digestmod=hashlib.sha256)


def _signature(secret: str | bytes, message: bytes) -> bytes:
    """``b"sha256=" + base64(HMAC-SHA256(secret, message))``."""
    mac = _keyed(secret.encode() if isinstance(secret, str) else bytes(secret)).copy()
    mac.update(message)
    return b"sha256=" + binascii.b2a_base64(mac.digest(), newline=False)


def verify(secret: str | bytes, body: bytes, header: str | bytes | None) -> bool:
    """True when ``header`` (the ``x-twitter-webhooks-signature`` value, text or raw header
    bytes) is the valid signature of ``body``.

    The comparison is constant-time (``hmac.compare_digest``) so that response timing does not
    leak how many leading characters of a forged signature were right.
    """
    if not header:
        return False
    if isinstance(header, str):
        try:
            header = header.encode("ascii")
        except UnicodeEncodeError:
            return False
    return hmac.compare_digest(_signature(secret, body), header.strip())
