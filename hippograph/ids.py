"""Stable content-hash ids: the same input always gets the same id."""

import hashlib


def content_hash(*parts: str) -> str:
    """A 16-hex-digit hash of the parts (unambiguous: parts are length-prefixed)."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8")
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()[:16]


def embedding_key(text: str) -> str:
    """The key a text's vector is stored under: texts alike share one vector."""
    return content_hash("text", text)
