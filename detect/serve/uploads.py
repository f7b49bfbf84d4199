"""Request bodies → images: multipart field ``image`` (one or more files) or a JSON body of
base64 images. Every cap is checked before the work it guards: the body's size while it is
read (413), an image's type and pixel count from its header before any pixel is decoded
(415, 413), then the decode (422 for a broken file), off the event loop."""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import json
import warnings
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError
from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.requests import Request

from detect.data.images import decode_image
from detect.errors import ImageError
from detect.inference.sources import to_rgb_chw
from detect.serve.problems import ApiError, error_response
from detect.serve.schemas import DetectJSON, DetectOptions

FORMATS = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WebP", "BMP": "BMP"}
OPTIONS = tuple(DetectOptions.model_fields)
FIELD = "image"


@dataclass
class Upload:
    """One image of a request: its bytes and where it came from (``image[0]``, ``images[1]``)."""

    field: str
    data: bytes


@dataclass
class Decoded:
    rgb: np.ndarray  # (3, H, W) uint8
    width: int
    height: int


class BodyLimit:
    """ASGI middleware: a body over ``limit`` bytes is refused (413) as soon as it is known:
    from Content-Length before reading, else while the chunks arrive."""

    def __init__(self, app: Callable[..., Awaitable[None]], limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: MutableMapping[str, Any], receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await error_response(ApiError(413, self.message(int(length)), "body"))(
                scope, receive, send
            )
            return
        seen = 0

        async def counted() -> MutableMapping[str, Any]:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise ApiError(413, self.message(seen), "body")
            return message

        await self.app(scope, counted, send)

    def message(self, size: int) -> str:
        return (
            f"request body of {size / 2**20:.1f} MB is over serve.max_upload_mb="
            f"{self.limit / 2**20:g}: send smaller or fewer images"
        )


def parse_options(values: dict[str, Any], where: str) -> DetectOptions:
    """Options from a query string or form fields; an unknown name is refused by name."""
    unknown = sorted(set(values) - set(OPTIONS))
    if unknown:
        raise ApiError(
            422,
            f"unknown option(s) {unknown} in the {where}; options: {', '.join(OPTIONS)}",
            unknown[0],
        )
    try:
        return DetectOptions.model_validate(values)
    except ValidationError as error:
        raise invalid(error) from None


def invalid(error: ValidationError) -> ApiError:
    """The first problem, an unknown field before a missing one (``imgs`` for ``images``)."""
    errors = sorted(error.errors(), key=lambda e: e["type"] != "extra_forbidden")
    first = errors[0]
    field = ".".join(str(part) for part in first["loc"]) or None
    if first["type"] == "extra_forbidden":
        known = ", ".join(DetectJSON.model_fields)
        return ApiError(422, f"{field}: unknown field; the fields are {known}", field)
    return ApiError(422, f"{field}: {first['msg']}", field)


def as_class(text: str) -> int | str:
    """A class from a query or form: a category id when it is a number, else a name."""
    return int(text) if text.strip().isdigit() else text.strip()


def query_options(request: Request) -> dict[str, Any]:
    """``?score_thresh=0.5&classes=person&classes=3`` (or ``classes=person,3``)."""
    values: dict[str, Any] = {}
    for key in request.query_params:
        found = request.query_params.getlist(key)
        if key == "classes":
            values[key] = [as_class(part) for item in found for part in item.split(",") if part]
        else:
            values[key] = found[-1]
    return values


async def read_request(request: Request, max_images: int) -> tuple[list[Upload], DetectOptions]:
    """The images and options of a /v1/detect request (multipart or JSON)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    query = query_options(request)
    if kind == "multipart/form-data":
        uploads, fields = await read_form(request, max_images)
        options = parse_options({**query, **fields}, "query or form")
    elif kind == "application/json":
        uploads, options = await read_json(request, query)
    else:
        raise ApiError(
            415,
            f"content-type {kind or 'missing'!r}: send multipart/form-data with field "
            f"'{FIELD}' or application/json with 'images' (base64)",
            "content-type",
        )
    if len(uploads) > max_images:
        raise ApiError(
            413,
            f"{len(uploads)} images in one request, over serve.max_images={max_images}",
            FIELD,
        )
    return uploads, options


async def read_form(request: Request, max_images: int) -> tuple[list[Upload], dict[str, Any]]:
    try:
        form = await request.form(max_files=max_images + 1, max_fields=32)
    except ApiError:
        raise
    except Exception as error:  # the multipart parser's own refusals
        raise ApiError(422, f"unreadable multipart body: {error}", "body") from None
    uploads: list[Upload] = []
    fields: dict[str, Any] = {}
    for key, value in form.multi_items():
        if key == FIELD:
            if not isinstance(value, UploadFile):
                raise ApiError(422, f"{FIELD}: must be a file part, not a text field", FIELD)
            uploads.append(Upload(f"{FIELD}[{len(uploads)}]", await value.read()))
        elif key == "classes":
            fields.setdefault(key, []).extend(as_class(p) for p in str(value).split(",") if p)
        elif isinstance(value, UploadFile):
            raise ApiError(
                422, f"file field {key!r}: images go in the multipart field '{FIELD}'", key
            )
        else:
            fields[key] = value
    await form.close()
    if not uploads:
        named = sorted(set(form.keys()))
        raise ApiError(
            422,
            f"no image: send the file(s) in the multipart field '{FIELD}' (fields sent: "
            f"{', '.join(named) or 'none'})",
            FIELD,
        )
    return uploads, fields


async def read_json(request: Request, query: dict[str, Any]) -> tuple[list[Upload], DetectOptions]:
    try:
        body = json.loads(await request.body())
    except ApiError:
        raise
    except (ValueError, UnicodeDecodeError) as error:
        raise ApiError(422, f"body: not valid JSON ({error})", "body") from None
    if not isinstance(body, dict):
        raise ApiError(422, "body: a JSON object with 'images' (base64 strings)", "body")
    try:
        parsed = DetectJSON.model_validate({**query, **body})
    except ValidationError as error:
        raise invalid(error) from None
    uploads = []
    for index, text in enumerate(parsed.images):
        try:
            data = base64.b64decode(text.split(",", 1)[-1], validate=True)
        except (binascii.Error, ValueError):
            raise ApiError(422, f"images[{index}]: not valid base64", f"images[{index}]") from None
        uploads.append(Upload(f"images[{index}]", data))
    return uploads, DetectOptions(**parsed.model_dump(exclude={"images"}))


def check_header(upload: Upload, max_pixels: int) -> tuple[int, int]:
    """(width, height) from the file's header, no pixels decoded: a type we do not take is a
    415, more pixels than ``max_pixels`` a 413 (PIL's own bomb guard too)."""
    accepted = ", ".join(FORMATS.values())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(upload.data)) as image:
                kind, (width, height) = image.format, image.size
    except Image.DecompressionBombError as error:  # PIL's own guard, past 2 × its limit
        message = f"{upload.field}: {error} (over serve.max_pixels={max_pixels:,})"
        raise ApiError(413, message, upload.field) from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise ApiError(
            415, f"{upload.field}: not an image file ({accepted} are taken)", upload.field
        ) from None
    if kind not in FORMATS:
        raise ApiError(
            415, f"{upload.field}: {kind} images are not taken ({accepted})", upload.field
        )
    if width * height > max_pixels:
        raise ApiError(
            413,
            f"{upload.field}: {width}×{height} = {width * height:,} pixels decoded, over "
            f"serve.max_pixels={max_pixels:,}",
            upload.field,
        )
    return width, height


def decode(upload: Upload, max_pixels: int) -> Decoded:
    """Header checks, then the same decode as ``detect predict``'s image reader."""
    check_header(upload, max_pixels)
    try:
        bgr = decode_image(upload.data, upload.field)
    except ImageError as error:
        raise ApiError(422, f"{upload.field}: {error.reason}", upload.field) from None
    return Decoded(to_rgb_chw(bgr), bgr.shape[1], bgr.shape[0])


async def decode_all(uploads: list[Upload], max_pixels: int) -> list[Decoded]:
    """Every upload decoded in worker threads (OpenCV releases the GIL)."""
    return list(
        await asyncio.gather(*(asyncio.to_thread(decode, upload, max_pixels) for upload in uploads))
    )
