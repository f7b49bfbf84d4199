"""The ASGI app: ``create_app(loaded, config)`` over a loaded detector (see :mod:`detect.serve`).

Routes: ``POST /v1/detect`` (dynamic batching), ``/v1/streams`` (+ ``/{id}``, ``/{id}/events``,
``/{id}/video.mjpg``), ``/v1/model``, ``/healthz``, ``/readyz``, ``/metrics``, the live page at
``/`` and OpenAPI docs at ``/docs``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any, NoReturn

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles

from detect.errors import DetectError
from detect.inference.backends import LoadedDetector
from detect.inference.detections import Detections
from detect.serve import problems
from detect.serve.batcher import Batcher, Overloaded
from detect.serve.config import ServeConfig
from detect.serve.metrics import Metrics
from detect.serve.middleware import AccessLog, ApiKey, SecurityHeaders, TrustedHosts
from detect.serve.problems import ApiError
from detect.serve.schemas import (
    DetectJSON,
    DetectResponse,
    StreamCreated,
    StreamInfo,
    StreamList,
    StreamRequest,
)
from detect.serve.streams import StreamHandle, StreamRegistry
from detect.serve.uploads import BodyLimit, Limits, decode_all, plan_all, read_request

log = logging.getLogger(__name__)

STATIC = resources.files("detect.serve") / "static"
POLL_S = 0.03  # how often a media route looks for a new frame
HEARTBEAT_S = 15.0
BOUNDARY = "frame"

DETECT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["image"],
                    "properties": {
                        "image": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "JPEG/PNG/WebP files, one or more",
                        }
                    },
                }
            },
            "application/json": {"schema": DetectJSON.model_json_schema()},
        },
    },
    "parameters": [
        {"name": "score_thresh", "in": "query", "schema": {"type": "number"}},
        {"name": "max_detections", "in": "query", "schema": {"type": "integer"}},
        {
            "name": "classes",
            "in": "query",
            "schema": {"type": "array", "items": {"type": "string"}},
            "description": "category ids or names (repeat, or comma-separated)",
        },
    ],
}


class State:
    """What the routes share: the model, the batcher, the streams, readiness."""

    def __init__(self, loaded: LoadedDetector, config: ServeConfig) -> None:
        self.loaded, self.config = loaded, config
        self.streams = StreamRegistry(loaded, config)
        self.metrics = Metrics(lambda: self.batcher.depth, self.streams.infos)
        self.batcher = Batcher(
            loaded.detector,
            config.max_batch,
            config.max_wait_ms,
            config.queue_size,
            self.metrics.on_batch,
        )
        self.limits = Limits(config.max_pixels, config.max_request_pixels, config.decode_min_side)
        self.pixels = PixelBudget(config.max_queued_pixels)
        self.ready = False
        self.closing = threading.Event()  # shutdown began: live media responses end


def create_app(loaded: LoadedDetector, config: ServeConfig) -> FastAPI:
    """The app over ``loaded`` with ``config``'s settings (the model is warmed at startup;
    /readyz says so)."""
    state = State(loaded, config)

    async def warm_up() -> None:
        """The first detector call (slow on every backend) while the server already listens:
        /healthz answers meanwhile, /readyz says 503 until it is done."""
        await state.batcher.detect([np.zeros((3, 64, 64), np.uint8)])
        state.ready = True
        log.info("ready: %s", loaded.description)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await state.batcher.start()
        warming = asyncio.create_task(warm_up(), name="warm-up")
        try:
            yield
        finally:
            state.ready = False
            warming.cancel()
            await state.streams.close_all()
            await state.batcher.stop()
            state.metrics.close()

    app = FastAPI(
        title="detect",
        summary="MobileNet + SSDLite detection: images, live streams, tracking and counts",
        version="1",
        lifespan=lifespan,
        docs_url=None,  # served below from the packaged Swagger UI, never a CDN
        redoc_url=None,
        redirect_slashes=False,  # its redirects echo the request's Host
    )
    app.state.shared = state
    problems.install(app)
    app.add_middleware(BodyLimit, limit=config.max_upload_bytes)
    if config.api_key:
        app.add_middleware(ApiKey, key=config.api_key)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(TrustedHosts, names=config.host_names)
    app.add_middleware(AccessLog, metrics=state.metrics, enabled=config.access_log)
    add_routes(app, state)
    return app


def add_routes(app: FastAPI, state: State) -> None:
    config, loaded = state.config, state.loaded
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(str(STATIC / "index.html"))

    add_docs(app)

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        """The process is up (no key needed)."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"])
    async def readyz() -> JSONResponse:
        """The model is loaded and warm (503 until then, and while shutting down; no key)."""
        if not state.ready:
            return JSONResponse({"status": "starting"}, 503)
        return JSONResponse({"status": "ready", "model": loaded.description})

    @app.get("/metrics", tags=["operations"])
    async def metrics() -> Response:
        """Prometheus metrics."""
        return Response(state.metrics.render(), media_type="text/plain; version=0.0.4")

    @app.get("/v1/model", tags=["detect"])
    async def model() -> dict[str, Any]:
        """The model: its description, backend and categories."""
        return {
            "description": loaded.description,
            "backend": loaded.backend,
            "names": {str(k): v for k, v in loaded.categories.by_id.items()},
            "score_thresh": config.score_thresh,
            "max_batch": config.max_batch,
        }

    @app.post(
        "/v1/detect", response_model=DetectResponse, tags=["detect"], openapi_extra=DETECT_BODY
    )
    async def detect(request: Request) -> JSONResponse:
        """Detections for one or more images (multipart field ``image``, or JSON ``images`` in
        base64), one result per image in request order."""
        uploads, options = await read_request(request, config.max_images)
        if options.classes is not None and not options.classes:  # classes=,,, keeps nothing
            raise ApiError(
                422, "classes: names no class; leave it out to keep every class", "classes"
            )
        try:
            classes = None if options.classes is None else loaded.categories.ids_of(options.classes)
        except DetectError as error:
            raise ApiError(422, str(error), "classes") from None
        if len(uploads) > config.queue_size:  # would be refused on every retry
            raise ApiError(
                413,
                f"{len(uploads)} images in one request, over serve.queue_size="
                f"{config.queue_size}: send at most that many",
                "image",
            )
        plans = plan_all(uploads, state.limits)
        pixels = sum(plan.pixels for plan in plans)
        if not state.pixels.reserve(pixels):
            busy(f"{state.pixels.used:,} decoded pixels in flight (serve.max_queued_pixels)")
        try:
            decoded = await decode_all(uploads, plans)
            try:
                outputs = await state.batcher.detect([image.rgb for image in decoded])
            except Overloaded as error:
                busy(str(error))
        finally:
            state.pixels.release(pixels)
        thresh = config.score_thresh if options.score_thresh is None else options.score_thresh
        results = [
            {
                "width": image.width,
                "height": image.height,
                "detections": Detections.from_output(
                    rescaled(output, image.scale),
                    loaded.categories,
                    thresh,
                    classes,
                    options.max_detections,
                ).to_records(),
            }
            for image, output in zip(decoded, outputs, strict=True)
        ]
        return JSONResponse({"results": results})

    def busy(reason: str) -> NoReturn:
        state.metrics.rejected.inc()
        raise ApiError(
            503,
            f"busy: {reason}; retry after {config.retry_after_s} s",
            None,
            {"Retry-After": str(config.retry_after_s)},
        )

    def streams_allowed() -> None:
        if config.workers > 1:
            raise ApiError(
                409,
                f"streams need one server process (serve.workers={config.workers}): run a "
                "separate detect serve with workers=1 for streams",
                "workers",
            )

    @app.post("/v1/streams", status_code=201, response_model=StreamCreated, tags=["streams"])
    async def add_stream(body: StreamRequest) -> dict[str, str]:
        """Start detecting (tracking, counting) on a source; its id names it from then on."""
        streams_allowed()
        handle = await state.streams.open(body)
        return {"id": handle.id}

    @app.get("/v1/streams", response_model=StreamList, tags=["streams"])
    async def list_streams() -> dict[str, Any]:
        return {"streams": state.streams.infos()}

    @app.get("/v1/streams/{stream_id}", response_model=StreamInfo, tags=["streams"])
    async def stream_info(stream_id: str) -> dict[str, Any]:
        """State (starting, running, reconnecting, ended, failed, stopped), fps, counts."""
        return state.streams.get(stream_id).info()

    @app.delete("/v1/streams/{stream_id}", status_code=204, tags=["streams"])
    async def delete_stream(stream_id: str) -> Response:
        await state.streams.delete(stream_id)
        return Response(status_code=204)

    @app.get("/v1/streams/{stream_id}/events", tags=["streams"])
    async def events(stream_id: str, request: Request, since: int | None = None) -> Response:
        """Server-sent events: ``frame`` (the frame's record: detections with track ids,
        counts; as ``detect predict``'s JSON lines) and ``end``. ``since=0``: from the oldest
        record kept; default: from now."""
        handle = state.streams.get(stream_id)
        start = handle.seq if since is None else since
        return StreamingResponse(
            sse(handle, request, start, state.closing),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @app.get("/v1/streams/{stream_id}/video.mjpg", tags=["streams"])
    async def video(stream_id: str, request: Request) -> Response:
        """The annotated frames, live (``multipart/x-mixed-replace``: an ``<img>`` plays it)."""
        handle = state.streams.get(stream_id)
        return StreamingResponse(
            mjpeg(handle, request, state.closing),
            media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
            headers={"Cache-Control": "no-cache"},
        )


def add_docs(app: FastAPI) -> None:
    """``/docs``: Swagger UI from the swagger-ui-bundle package (the serve extra), on this
    origin: no CDN, and nothing when the package is missing (``/openapi.json`` stays)."""
    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:
        log.info("/docs is off: swagger-ui-bundle is not installed (/openapi.json is served)")
        return
    from fastapi.openapi.docs import get_swagger_ui_html

    app.mount("/docs-assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> Response:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="detect API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon-32x32.png",
        )


def rescaled(output: dict[str, Any], scale: tuple[float, float]) -> dict[str, Any]:
    """A detector's output on a reduced decode, its boxes in the file's pixels."""
    if scale == (1.0, 1.0):
        return output
    boxes = np.asarray(output["boxes"], dtype=np.float32) * np.array(scale * 2, np.float32)
    return {**output, "boxes": boxes}


class PixelBudget:
    """Decoded pixels in flight across requests (from the header check to the detector's
    answer), at most ``limit``: what bounds the server's image memory, whatever the queue."""

    def __init__(self, limit: int) -> None:
        self.limit, self.used = limit, 0

    def reserve(self, pixels: int) -> bool:
        if self.used + pixels > self.limit:
            return False
        self.used += pixels
        return True

    def release(self, pixels: int) -> None:
        self.used -= pixels


async def sse(
    handle: StreamHandle, request: Request, seq: int, closing: threading.Event
) -> AsyncIterator[str]:
    quiet = 0.0
    while not closing.is_set() and not await request.is_disconnected():
        finished = handle.finished.is_set()
        fresh = handle.since(seq)
        for seq, record in fresh:
            yield f"id: {seq}\nevent: frame\ndata: {json.dumps(record)}\n\n"
        if finished and not handle.since(seq):
            yield f"event: end\ndata: {json.dumps(handle.info())}\n\n"
            return
        quiet = 0.0 if fresh else quiet + POLL_S
        if quiet >= HEARTBEAT_S:
            quiet = 0.0
            yield ": keep-alive\n\n"
        await asyncio.sleep(POLL_S)


async def mjpeg(
    handle: StreamHandle, request: Request, closing: threading.Event
) -> AsyncIterator[bytes]:
    shown = 0
    while not closing.is_set() and not await request.is_disconnected():
        if handle.seq != shown:
            shown, jpeg = await asyncio.to_thread(handle.frame_jpeg)
            if jpeg is not None:
                yield (
                    f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                    f"Content-Length: {len(jpeg)}\r\n\r\n".encode()
                    + jpeg
                    + b"\r\n"
                )
        elif handle.finished.is_set():
            return
        await asyncio.sleep(POLL_S)
