"""HMAC-SHA256 signatures for webhook jobs and callbacks, over `{timestamp}.{raw body}`.

Putting the timestamp inside the signed content is what makes an old delivery useless:
changing the header breaks the signature, keeping it fails the 5-minute window.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Shipbell-Signature"
TIMESTAMP_HEADER = "X-Shipbell-Timestamp"
DELIVERY_HEADER = "X-Shipbell-Delivery"
WINDOW_SECONDS = 300


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def headers(secret: str, timestamp: int, body: bytes, delivery: str) -> dict[str, str]:
    stamp = str(timestamp)
    return {SIGNATURE_HEADER: sign(secret, stamp, body), TIMESTAMP_HEADER: stamp,
            DELIVERY_HEADER: delivery, "Content-Type": "application/json"}


def verify(secret: str, timestamp: str, body: bytes, signature: str, now: float) -> bool:
    """Constant-time check of the signature, then of the timestamp window."""
    try:
        stamp = int(timestamp)
    except ValueError:
        return False
    good = hmac.compare_digest(sign(secret, timestamp, body), signature)
    return good and abs(now - stamp) <= WINDOW_SECONDS
