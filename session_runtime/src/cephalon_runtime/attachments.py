"""Attachments: fetch a turn's blobs from Redis into the workspace, checked again here.

The gateway already checked size and type, but the runtime does not trust that: it
re-checks the declared type against the tenant's allowlist, the size against the
limit (both declared and actual), the SHA-256 against the blob key's hash, and, for
images, that the bytes really are that image format. Files land in
``<workspace>/.cephalon/attachments/<turn>/<safe name>`` and go to the SDK as file
attachments.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import redis.asyncio as aioredis

from cephalon_contracts.resources import AttachmentsSpec
from cephalon_contracts.social import AttachmentRef

from .errors import AttachmentMissingError, AttachmentTooLargeError, AttachmentTypeError

_MAGIC: dict[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class StoredAttachment:
    path: Path
    content_type: str
    display_name: str


def safe_filename(name: str) -> str:
    """A file name that cannot leave its folder or hide (``../x`` → ``x``)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE.sub("_", base).lstrip(".") or "attachment"
    return cleaned[:120]


def check_declared(ref: AttachmentRef, spec: AttachmentsSpec) -> None:
    """Refuse by the declared type and size before fetching anything."""
    if ref.content_type not in spec.allowed_types:
        raise AttachmentTypeError(
            ref.filename,
            f"has type {ref.content_type}, which this tenant does not allow",
            content_type=ref.content_type,
        )
    if ref.size_bytes > spec.max_bytes:
        raise AttachmentTooLargeError(
            ref.filename,
            f"is {ref.size_bytes} bytes; at most {spec.max_bytes} are allowed",
            size_bytes=ref.size_bytes,
        )


def check_content(ref: AttachmentRef, data: bytes, spec: AttachmentsSpec) -> None:
    """Refuse by what the bytes really are."""
    if len(data) > spec.max_bytes:
        raise AttachmentTooLargeError(
            ref.filename, f"is {len(data)} bytes; at most {spec.max_bytes} are allowed"
        )
    if len(data) != ref.size_bytes:
        raise AttachmentMissingError(
            ref.filename, f"is {len(data)} bytes, not the {ref.size_bytes} it was stored as"
        )
    if hashlib.sha256(data).hexdigest() != ref.sha256:
        raise AttachmentMissingError(ref.filename, "does not match its content hash")
    magic = _MAGIC.get(ref.content_type)
    if magic is not None and not data.startswith(magic):
        raise AttachmentTypeError(
            ref.filename, f"is not really {ref.content_type}", content_type=ref.content_type
        )
    if ref.content_type.startswith("text/") or ref.content_type == "application/json":
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise AttachmentTypeError(ref.filename, "is not UTF-8 text") from e


async def fetch_attachments(
    client: aioredis.Redis,
    refs: list[AttachmentRef],
    *,
    spec: AttachmentsSpec,
    key_prefix: str,
    workspace: Path,
    turn_id: str,
) -> list[StoredAttachment]:
    """Fetch, check and store every attachment of a turn (all or nothing)."""
    stored: list[StoredAttachment] = []
    for ref in refs:
        check_declared(ref, spec)
        if not ref.blob_key.startswith(key_prefix):
            raise AttachmentMissingError(ref.filename, "is not stored under this session")
        data = await client.get(ref.blob_key)
        if data is None:
            raise AttachmentMissingError(ref.filename, "is no longer stored")
        raw = data if isinstance(data, bytes) else str(data).encode()
        check_content(ref, raw, spec)
        folder = workspace / ".cephalon" / "attachments" / turn_id
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / safe_filename(ref.filename)
        path.write_bytes(raw)
        stored.append(StoredAttachment(path, ref.content_type, ref.filename))
    return stored
