"""Images and documents: OpenAI data URLs (or fetched bytes) -> Bedrock image/document blocks.

Bedrock takes raw bytes (botocore base64-encodes them on the wire), a format from a fixed list,
and enforces size limits we check first so the client gets a 400 naming the part instead of
Bedrock's generic validation error after the upload.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from collections.abc import Mapping

from bedrock_gateway.conversation.media_facts import (
    DOCUMENT_EXTENSIONS,
    DOCUMENT_FORMATS,
    DOCUMENT_MAX_BYTES,
    DOCUMENT_MEDIA_TYPES,
    IMAGE_FORMATS,
    IMAGE_MAX_BYTES,
    sniff_image_format,
)
from bedrock_gateway.errors import InvalidRequestError

_NAME_DISALLOWED = re.compile(r"[^A-Za-z0-9()\[\]\- ]+")
_SPACES = re.compile(r"\s+")


def _invalid(message: str, param: str, code: str = "invalid_value") -> InvalidRequestError:
    return InvalidRequestError(message, param=param, code=code)


def _decoded_size(payload: str) -> int:
    """Bytes that base64 text decodes to, without decoding it (to refuse huge inputs cheaply)."""
    size = len(payload) * 3 // 4
    return size - payload[-2:].count("=")


def _b64decode(payload: str, param: str) -> bytes:
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        pass
    try:  # some clients wrap base64 at 76 columns
        return base64.b64decode("".join(payload.split()), validate=True)
    except (binascii.Error, ValueError):
        raise _invalid("The data is not valid base64.", param) from None


def split_data_url(url: str, param: str) -> tuple[str, str]:
    """(media type, base64 payload) of `data:<type>[;params];base64,<payload>`."""
    header, comma, payload = url.partition(",")
    if not comma or not header[:5].lower() == "data:":
        raise _invalid("Malformed data URL: expected data:<type>;base64,<data>.", param)
    fields = header[5:].split(";")
    if "base64" not in (f.strip().lower() for f in fields[1:]):
        raise _invalid("Data URLs must be base64-encoded (data:<type>;base64,...).", param)
    if not payload:
        raise _invalid("The data URL holds no data.", param)
    return fields[0].strip().lower(), payload


def _image_too_large(param: str, size: int | None = None) -> InvalidRequestError:
    """The 400 for an image over Bedrock's limit, however it came (data URL, base64, fetched)."""
    got = f" ({size} bytes)" if size is not None else ""
    return _invalid(f"The image is larger than Amazon Bedrock's limit of 3.75 MB{got}.", param,
                    "image_too_large")


def not_an_image(param: str, declared: str | None) -> InvalidRequestError:
    """The 400 for bytes that are not a png, jpeg, gif or webp image, whatever they were declared
    as (`declared`: the data URL's media type or the Content-Type it was served with)."""
    label = f" (labelled '{declared}')" if declared else ""
    kinds = f"{', '.join(IMAGE_FORMATS[:-1])} or {IMAGE_FORMATS[-1]}"
    return _invalid(f"Images must be {kinds}; these bytes{label} are none of them.", param,
                    "invalid_image_format")


def image_content(data: bytes | bytearray, declared: str | None, param: str) -> dict:
    """The Bedrock image block for image bytes: checked for size, and in the format its magic
    bytes say (the declared media type is only named in the error when they say none)."""
    if len(data) > IMAGE_MAX_BYTES:
        raise _image_too_large(param, len(data))
    if not data:
        raise _invalid("The image is empty.", param)
    fmt = sniff_image_format(data)
    if fmt is None:
        raise not_an_image(param, declared)
    return {"image": {"format": fmt, "source": {"bytes": data}}}


# Key of the placeholder block `image_block` leaves for a remote image that is not fetched yet:
# the server translates (and so validates) the whole request before it fetches anything, then
# `attach_remote_images` swaps each placeholder for the image block of the fetched bytes.
REMOTE_IMAGE = "remoteImage"


def image_block(url: str, fetched: Mapping[str, tuple[bytes, str]], param: str) -> dict:
    """The Bedrock image block for an `image_url` part (`param` names its url); for a remote URL
    not in `fetched`, a placeholder for `attach_remote_images`."""
    if url[:5].lower() != "data:":
        got = fetched.get(url)
        if got is None:
            return {REMOTE_IMAGE: {"url": url, "param": param}}
        return image_content(got[0], f"image/{got[1]}", param)
    media_type, payload = split_data_url(url, param)
    if _decoded_size(payload) > IMAGE_MAX_BYTES + 3:
        raise _image_too_large(param)
    return image_content(_b64decode(payload, param), media_type, param)


def pending_remote_images(messages: list[dict]) -> dict[str, str]:
    """{url: param} of the placeholders in translated `messages`, each URL once, in order."""
    pending: dict[str, str] = {}
    for message in messages:
        for block in message["content"]:
            remote = block.get(REMOTE_IMAGE)
            if remote is not None:
                pending.setdefault(remote["url"], remote["param"])
    return pending


def attach_remote_images(messages: list[dict], fetched: Mapping[str, tuple[bytes, str]]) -> None:
    """Replace every placeholder in `messages` with the image block of its fetched bytes (checked
    like any image: size and format)."""
    for message in messages:
        content = message["content"]
        for i, block in enumerate(content):
            remote = block.get(REMOTE_IMAGE)
            if remote is None:
                continue
            got = fetched.get(remote["url"])
            if got is None:
                raise _invalid("The image URL was not fetched.", remote["param"],
                               "image_fetch_failed")
            content[i] = image_content(got[0], f"image/{got[1]}", remote["param"])


def document_name(filename: str | None, used: set[str]) -> str:
    """A name Bedrock accepts (alphanumerics, single spaces, hyphens, parentheses, brackets),
    unique within the request."""
    stem = (filename or "").rsplit("/", 1)[-1]
    if "." in stem:
        stem = stem.rsplit(".", 1)[0]
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    name = _SPACES.sub(" ", _NAME_DISALLOWED.sub(" ", ascii_stem)).strip()[:180] or "document"
    candidate, n = name, 1
    while candidate in used:
        n += 1
        candidate = f"{name} ({n})"
    used.add(candidate)
    return candidate


def document_block(file_data: str, filename: str | None, param: str, used_names: set[str]) -> dict:
    """The Bedrock document block for a `file` part (`param` names its file_data)."""
    if file_data[:5].lower() == "data:":
        media_type, payload = split_data_url(file_data, param)
    else:  # bare base64, as some clients send it: the filename must tell the format
        media_type, payload = "", file_data
    fmt = DOCUMENT_MEDIA_TYPES.get(media_type)
    if fmt is None and filename and "." in filename:
        fmt = DOCUMENT_EXTENSIONS.get(filename.rsplit(".", 1)[1].lower())
    if fmt is None:
        raise _invalid("Unsupported document type; Amazon Bedrock takes "
                       f"{', '.join(DOCUMENT_FORMATS[:-1])} and {DOCUMENT_FORMATS[-1]}.", param,
                       "invalid_document_format")
    if _decoded_size(payload) > DOCUMENT_MAX_BYTES + 3:
        raise _invalid("The document is larger than Amazon Bedrock's limit of 4.5 MB.", param,
                       "document_too_large")
    data = _b64decode(payload, param)
    if len(data) > DOCUMENT_MAX_BYTES:
        raise _invalid("The document is larger than Amazon Bedrock's limit of 4.5 MB.", param,
                       "document_too_large")
    if not data:
        raise _invalid("The document is empty.", param)
    return {"document": {"format": fmt, "name": document_name(filename, used_names),
                         "source": {"bytes": data}}}
