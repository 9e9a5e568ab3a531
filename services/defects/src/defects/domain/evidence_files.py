"""Which evidence files the service keeps: PDF, PNG, JPEG and plain text, up to 5 MB each and
5 per response (all of a response within the request size cap, ``MAX_BODY_BYTES``), recognised
by their first bytes (magic numbers), not by what the client says.

A file whose content is not one of those types, or does not match its declared type, is refused.
Files are only ever stored and handed back as attachments; nothing is executed or rendered.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from defects.domain.errors import RejectedEvidence

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_FILES = 5
ALLOWED_TYPES = ("application/pdf", "image/png", "image/jpeg", "text/plain")

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]")


@dataclass(frozen=True)
class EvidenceFile:
    filename: str
    content_type: str
    content: bytes
    sha256: str

    @property
    def size(self) -> int:
        return len(self.content)


def sniff(content: bytes) -> str | None:
    """The allowed type the bytes are, or None."""
    for magic, content_type in _MAGIC:
        if content.startswith(magic):
            return content_type
    if _is_plain_text(content):
        return "text/plain"
    return None


def _is_plain_text(content: bytes) -> bool:
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return _CONTROL.search(content) is None


def safe_filename(name: str | None, index: int) -> str:
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE_NAME.sub("_", base).strip(" .")[:120]
    return cleaned or f"evidence-{index + 1}"


def accept(
    *, index: int, filename: str | None, declared: str | None, content: bytes
) -> EvidenceFile:
    """Check one uploaded file; raises ``RejectedEvidence`` naming ``files[index]``."""
    field = f"files[{index}]"
    if len(content) > MAX_FILE_BYTES:
        raise RejectedEvidence(field, f"larger than {MAX_FILE_BYTES} bytes", status=413)
    if not content:
        raise RejectedEvidence(field, "the file is empty")
    declared_type = (declared or "").split(";", 1)[0].strip().lower()
    detected = sniff(content)
    if detected is None:
        allowed = ", ".join(ALLOWED_TYPES)
        raise RejectedEvidence(field, f"content is not one of {allowed}", status=415)
    if declared_type not in ("", "application/octet-stream") and declared_type != detected:
        raise RejectedEvidence(
            field, f"declared as {declared_type} but the content is {detected}", status=415
        )
    return EvidenceFile(
        filename=safe_filename(filename, index),
        content_type=detected,
        content=content,
        sha256=hashlib.sha256(content).hexdigest(),
    )


def check_count(count: int) -> None:
    if count > MAX_FILES:
        raise RejectedEvidence("files", f"at most {MAX_FILES} files per response; got {count}")
