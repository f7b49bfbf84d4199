"""The API's bodies as pydantic models: requests are checked field by field (an unknown or
wrong field is a 422 naming it) and responses are documented at ``/docs``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DetectOptions(Strict):
    """Per-call options, named as :meth:`detect.Model.predict` names them."""

    score_thresh: float | None = Field(None, ge=0, le=1, description="default: serve's")
    max_detections: int | None = Field(None, ge=1, description="the best N per image")
    classes: list[int | str] | None = Field(None, description="category ids or names to keep")


class DetectJSON(DetectOptions):
    """A JSON request: base64-encoded JPEG/PNG/WebP images."""

    images: list[str] = Field(..., min_length=1, description="base64 image files")


class Detection(BaseModel):
    box: list[float] = Field(..., description="[x1, y1, x2, y2] in the image's pixels")
    label: str
    category_id: int
    score: float


class ImageResult(BaseModel):
    width: int
    height: int
    detections: list[Detection]


class DetectResponse(BaseModel):
    """One entry per image, in request order (the entries ``detect predict`` writes)."""

    results: list[ImageResult]


class CountSpec(Strict):
    """Lines and zones as ``count.lines`` / ``count.zones`` of ``detect predict``."""

    lines: list[Any] = Field(default_factory=list)
    zones: list[Any] = Field(default_factory=list)
    anchor: Literal["center", "bottom"] = "center"
    margin: float = Field(0.05, ge=0, lt=1)


class StreamRequest(Strict):
    source: str = Field(
        ..., description="rtsp://, rtmp://, http(s):// URL, or a video file under serve.stream_dirs"
    )
    track: bool = Field(True, description="ByteTrack ids (one tracker per stream)")
    tracker: dict[str, float] = Field(
        default_factory=dict, description="ByteTrack's settings, as tracker.* of detect predict"
    )
    count: CountSpec = Field(default_factory=CountSpec)
    mode: Literal["auto", "every_frame", "realtime"] = Field(
        "auto", description="auto: files every frame, URLs newest frame (as detect predict)"
    )
    score_thresh: float | None = Field(None, ge=0, le=1)
    classes: list[int | str] | None = None
    max_frames: int | None = Field(None, ge=1, description="stop after N frames")
    loop: bool = Field(False, description="replay a file when it ends")


class StreamCreated(BaseModel):
    id: str


class StreamInfo(BaseModel):
    id: str
    source: str
    state: Literal["starting", "running", "reconnecting", "ended", "failed", "stopped"]
    fps: float
    frames: int
    dropped: int
    reconnects: int
    track_ids: int
    counts: dict[str, Any] | None
    error: str | None


class StreamList(BaseModel):
    streams: list[StreamInfo]
