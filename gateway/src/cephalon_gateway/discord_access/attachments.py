"""Attachments: checked against the tenant's size and MIME allowlist before anything
is fetched, downloaded with a hard size cap, stored under the session's blob key with
a TTL and referenced by SHA-256 in the turn."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import httpx
import redis.asyncio as aioredis

from cephalon_contracts import AttachmentRef
from cephalon_contracts.resources import AttachmentsSpec

from .errors import AttachmentError, AttachmentTooLarge, AttachmentTypeNotAllowed
from .keys import KeySpace


@dataclass(frozen=True, slots=True)
class IncomingAttachment:
    id: str
    filename: str
    size: int
    url: str
    content_type: str


def base_type(content_type: str | None) -> str:
    """``text/plain; charset=utf-8`` → ``text/plain`` (lower case)."""
    return (content_type or "application/octet-stream").split(";", 1)[0].strip().lower()


def _human(size: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size = size / 1024  # type: ignore[assignment]
    return str(size)


def check_attachment(spec: AttachmentsSpec, attachment: IncomingAttachment) -> None:
    """Raise a clear :class:`AttachmentError` when the tenant does not accept it."""
    if attachment.size > spec.max_bytes:
        raise AttachmentTooLarge(
            f"`{attachment.filename}` is {_human(attachment.size)}; this server accepts "
            f"attachments up to {_human(spec.max_bytes)}. Nothing was sent to the agent."
        )
    kind = base_type(attachment.content_type)
    if kind not in {base_type(t) for t in spec.allowed_types}:
        allowed = ", ".join(sorted(spec.allowed_types)) or "none"
        raise AttachmentTypeNotAllowed(
            f"`{attachment.filename}` is `{kind}`, which this server does not accept "
            f"(allowed: {allowed}). Nothing was sent to the agent."
        )


async def fetch_and_store(
    http: httpx.AsyncClient,
    redis: aioredis.Redis,
    space: KeySpace,
    session_id: str,
    attachment: IncomingAttachment,
    *,
    max_bytes: int,
    ttl_seconds: int,
) -> AttachmentRef:
    """Download (never more than ``max_bytes``), hash, store with a TTL."""
    digest = hashlib.sha256()
    parts: list[bytes] = []
    total = 0
    try:
        async with http.stream("GET", attachment.url) as response:
            if response.status_code != 200:
                raise AttachmentError(
                    f"`{attachment.filename}` could not be downloaded from Discord "
                    f"({response.status_code}). Please send it again."
                )
            async for chunk in response.aiter_bytes():
                total += len(chunk)
                if total > max_bytes:
                    raise AttachmentTooLarge(
                        f"`{attachment.filename}` is larger than the {_human(max_bytes)} "
                        "this server accepts. Nothing was sent to the agent."
                    )
                digest.update(chunk)
                parts.append(chunk)
    except httpx.HTTPError as e:
        raise AttachmentError(
            f"`{attachment.filename}` could not be downloaded from Discord. Please send it again."
        ) from e
    sha = digest.hexdigest()
    key = space.blob(session_id, sha)
    await redis.set(key, b"".join(parts), ex=ttl_seconds)
    return AttachmentRef(
        blob_key=key,
        sha256=sha,
        filename=attachment.filename[:255],
        content_type=base_type(attachment.content_type),
        size_bytes=total,
    )
