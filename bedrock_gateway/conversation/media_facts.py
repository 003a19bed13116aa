"""What Amazon Bedrock takes as images and documents: the one home of media facts.

Formats, media types, size and count limits, and the magic bytes that tell an image's real
format. Used by the OpenAI chat and Responses translation (conversation/images.py), the
Anthropic Messages translation, and the image fetcher (server/image_fetch.py) alike: an image's
format is what its bytes say, whether it came in a data URL, base64 or over HTTP; the media type
a client or a web server declares is only a hint.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

IMAGE_FORMATS = ("png", "jpeg", "gif", "webp")  # Converse's ImageFormat
IMAGE_MAX_BYTES = 3_932_160  # 3.75 MB, Bedrock's per-image limit
MAX_IMAGES_PER_REQUEST = 20  # Bedrock's limit per Converse request
# The media types of the formats (what Anthropic's API accepts in a base64 source).
IMAGE_MEDIA_TYPES: Mapping[str, str] = MappingProxyType(
    {f"image/{fmt}": fmt for fmt in IMAGE_FORMATS})
# The longest prefix `sniff_image_format` reads (WebP: RIFF, four size bytes, WEBP).
IMAGE_SIGNATURE_BYTES = 12

DOCUMENT_FORMATS = ("pdf", "csv", "doc", "docx", "xls", "xlsx", "html", "txt", "md")
DOCUMENT_MAX_BYTES = 4_718_592  # 4.5 MB, Bedrock's per-document limit
DOCUMENT_MEDIA_TYPES: Mapping[str, str] = MappingProxyType({
    "application/pdf": "pdf", "text/csv": "csv", "application/msword": "doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.ms-excel": "xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "text/html": "html", "text/plain": "txt", "text/markdown": "md", "text/x-markdown": "md",
})
DOCUMENT_EXTENSIONS: Mapping[str, str] = MappingProxyType({
    "pdf": "pdf", "csv": "csv", "doc": "doc", "docx": "docx", "xls": "xls", "xlsx": "xlsx",
    "html": "html", "htm": "html", "txt": "txt", "md": "md", "markdown": "md"})


def sniff_image_format(data: bytes | bytearray) -> str | None:
    """The format the magic bytes say (clients often label a JPEG as PNG, which Bedrock rejects,
    and web servers send images as application/octet-stream); None when the bytes are none of
    the formats Bedrock takes. Reads at most IMAGE_SIGNATURE_BYTES."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None
