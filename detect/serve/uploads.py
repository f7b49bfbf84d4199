"""Request bodies → images: multipart field ``image`` (one or more files) or a JSON body of
base64 images. Every cap is checked before the work it guards: the body's size while it is
read (413), an image's type and pixel count from its header before any pixel is decoded
(415, 413), then the decode (422 for a broken file), off the event loop."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import io
import json
import warnings
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError
from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.requests import Request

from detect.data.images import decode_image
from detect.errors import ImageError
from detect.inference.sources import to_rgb_chw
from detect.serve.problems import ApiError, BodyTooLarge, error_response
from detect.serve.schemas import DetectJSON, DetectOptions

FORMATS = {
    "JPEG": "JPEG",
    "MPO": "JPEG",
    "PNG": "PNG",
    "WEBP": "WebP",
    "BMP": "BMP",
}  # MPO: phones' JPEG
OPTIONS = tuple(DetectOptions.model_fields)
FIELD = "image"


@dataclass
class Upload:
    """One image of a request: its bytes and where it came from (``image[0]``, ``images[1]``)."""

    field: str
    data: bytes


@dataclass
class Decoded:
    rgb: np.ndarray  # (3, h, w) uint8, maybe reduced from the file's size
    width: int  # the file's
    height: int

    @property
    def scale(self) -> tuple[float, float]:
        """From the decoded pixels to the file's (x, y)."""
        return self.width / self.rgb.shape[2], self.height / self.rgb.shape[1]


class BodyLimit:
    """ASGI middleware: a body over ``limit`` bytes is refused (413) as soon as it is known:
    from Content-Length before reading, else while the chunks arrive. Whatever the app makes
    of the interrupted read (a parser's 400, a 422), the client gets the 413."""

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
        seen, over, started = 0, False, False

        async def counted() -> MutableMapping[str, Any]:
            nonlocal seen, over
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                over = True
                raise BodyTooLarge(self.message(seen))
            return message

        async def watched(message: MutableMapping[str, Any]) -> None:
            nonlocal started
            if over and not started:
                return  # the app's own answer to the interrupted read: ours replaces it
            started = started or message["type"] == "http.response.start"
            await send(message)

        with contextlib.suppress(BodyTooLarge):
            await self.app(scope, counted, watched)
        if over and not started:
            await error_response(ApiError(413, self.message(seen), "body"))(scope, receive, send)

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
    except (ApiError, BodyTooLarge):
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
    except (ApiError, BodyTooLarge):
        raise
    except RecursionError:
        raise ApiError(422, "body: JSON nested too deeply", "body") from None
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
            payload = "".join(text.split(",", 1)[-1].split())  # base64 -w76 breaks its lines
            data = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise ApiError(422, f"images[{index}]: not valid base64", f"images[{index}]") from None
        uploads.append(Upload(f"images[{index}]", data))
    return uploads, DetectOptions(**parsed.model_dump(exclude={"images"}))


@dataclass(frozen=True)
class Plan:
    """How an upload will be decoded, known from its header alone: its declared size, the
    JPEG reduction (1, 2, 4 or 8: libjpeg's DCT scaling) and the pixels the decode makes."""

    width: int
    height: int
    reduction: int

    @property
    def pixels(self) -> int:
        return -(-self.width // self.reduction) * -(-self.height // self.reduction)


@dataclass(frozen=True)
class Limits:
    """The decode's caps (``serve.*``): ``max_pixels`` per image and ``max_request_pixels``
    per request, counted as decoded (after any reduction); ``decode_min_side``: a JPEG whose
    shorter side is at least twice this is decoded reduced, its shorter side kept ≥ it."""

    max_pixels: int
    max_request_pixels: int
    decode_min_side: int


# the most pixels one byte of a file can declare and still fill: PNG's deflate expands at most
# 1032:1, 8 one-bit pixels a byte; a Huffman-coded JPEG spends ≥ 1 bit per 8×8 block's DC
# (progressive scans included): 512 pixels a byte; BMP's RLE 2 bytes per run of 255.
PIXELS_PER_BYTE = {"PNG": 8 * 1032, "JPEG": 512, "MPO": 512, "BMP": 128}
REDUCED = {
    2: cv2.IMREAD_REDUCED_COLOR_2,
    4: cv2.IMREAD_REDUCED_COLOR_4,
    8: cv2.IMREAD_REDUCED_COLOR_8,
}
HUFFMAN_FRAMES = {0xC0, 0xC1, 0xC2}  # baseline, extended, progressive (not arithmetic-coded)


def check_header(upload: Upload, limits: Limits) -> Plan:
    """The decode's plan from the file's header, no pixel decoded: a type we do not take is a
    415, a size the file's bytes cannot fill a 422, more decoded pixels than
    ``limits.max_pixels`` a 413 (PIL's own bomb guard too)."""
    accepted = ", ".join(sorted(set(FORMATS.values())))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(upload.data)) as image:
                kind, (width, height) = image.format, image.size
    except Image.DecompressionBombError as error:  # PIL's own guard, past 2 × its limit
        message = f"{upload.field}: {error} (over serve.max_pixels)"
        raise ApiError(413, message, upload.field) from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise ApiError(
            415, f"{upload.field}: not an image file ({accepted} are taken)", upload.field
        ) from None
    if kind not in FORMATS:
        raise ApiError(
            415, f"{upload.field}: {kind} images are not taken ({accepted})", upload.field
        )
    per_byte = PIXELS_PER_BYTE.get(kind)
    if kind in ("JPEG", "MPO") and jpeg_frame(upload.data) not in HUFFMAN_FRAMES:
        per_byte = None  # arithmetic-coded: no floor, the reduced decode bounds it
    if per_byte is not None and width * height > per_byte * len(upload.data):
        raise ApiError(
            422,
            f"{upload.field}: its header declares {width}×{height} but its "
            f"{len(upload.data):,} bytes cannot hold that image (truncated or forged)",
            upload.field,
        )
    reduction = 1
    if kind in ("JPEG", "MPO"):
        while reduction < 8 and min(width, height) // (reduction * 2) >= limits.decode_min_side:
            reduction *= 2
    plan = Plan(width, height, reduction)
    if plan.pixels > limits.max_pixels:
        raise ApiError(
            413,
            f"{upload.field}: {width}×{height} decodes to {plan.pixels:,} pixels, over "
            f"serve.max_pixels={limits.max_pixels:,}",
            upload.field,
        )
    return plan


def jpeg_frame(data: bytes) -> int | None:
    """The SOF marker of a JPEG (C0 baseline … CF), from its segments before the first scan."""
    at = 2
    while at + 4 <= len(data) and data[at] == 0xFF:
        marker = data[at + 1]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            return marker
        if marker == 0xDA:
            return None
        at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")
    return None


def plan_all(uploads: list[Upload], limits: Limits) -> list[Plan]:
    """Every upload's plan; the request's decoded pixels over ``max_request_pixels`` is a
    413 (before any decode)."""
    plans = [check_header(upload, limits) for upload in uploads]
    total = sum(plan.pixels for plan in plans)
    if total > limits.max_request_pixels:
        raise ApiError(
            413,
            f"the request's images decode to {total:,} pixels, over "
            f"serve.max_request_pixels={limits.max_request_pixels:,}: send fewer or smaller",
            FIELD,
        )
    return plans


def decode(upload: Upload, plan: Plan) -> Decoded:
    """The same decode as ``detect predict``'s image reader, reduced as planned; ``width`` and
    ``height`` stay the file's (boxes are scaled back to them)."""
    flags = REDUCED.get(plan.reduction, cv2.IMREAD_COLOR)
    try:
        bgr = decode_image(upload.data, upload.field, flags=flags)
    except ImageError as error:
        raise ApiError(422, f"{upload.field}: {error.reason}", upload.field) from None
    return Decoded(to_rgb_chw(bgr), plan.width, plan.height)


async def decode_all(uploads: list[Upload], plans: list[Plan]) -> list[Decoded]:
    """Every upload decoded in worker threads (OpenCV releases the GIL)."""
    return list(
        await asyncio.gather(
            *(
                asyncio.to_thread(decode, upload, plan)
                for upload, plan in zip(uploads, plans, strict=True)
            )
        )
    )
