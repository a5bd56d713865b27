"""X/Twitter webhook cryptography: the CRC challenge answer and delivery signatures.

X signs with HMAC-SHA256 keyed by the app's consumer secret and sends the base64 digest prefixed
by ``sha256=``, both for the CRC ``response_token`` and for the ``x-twitter-webhooks-signature``
header over the raw request body.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from functools import lru_cache

#: Header X puts the delivery signature in (HTTP headers are case-insensitive).
SIGNATURE_HEADER = "x-twitter-webhooks-signature"


def sign(secret: str | bytes, message: str | bytes) -> str:
    """Return ``"sha256=" + base64(HMAC-SHA256(secret, message))``, as X computes it."""
    key = secret.encode() if isinstance(secret, str) else secret
    msg = message.encode() if isinstance(message, str) else message
    digest = hmac.digest(key, msg, "sha256")  # one C call (OpenSSL), same result as hmac.new
    return "sha256=" + base64.b64encode(digest).decode("ascii")


def crc_response(secret: str | bytes, crc_token: str) -> dict[str, str]:
    """The JSON body answering a CRC challenge: ``{"response_token": sign(secret, token)}``."""
    return {"response_token": sign(secret, crc_token)}


@lru_cache(maxsize=8)
def _keyed(secret: str | bytes) -> hmac.HMAC:
    # HMAC state with the key already absorbed: each delivery copies it instead of re-keying
    # (the same digest as sign(), for about half the cost on the webhook's hot path).
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, digestmod=hashlib.sha256)


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
    mac = _keyed(secret if isinstance(secret, str | bytes) else bytes(secret)).copy()
    mac.update(body)
    expected = b"sha256=" + binascii.b2a_base64(mac.digest(), newline=False)
    return hmac.compare_digest(expected, header.strip())
