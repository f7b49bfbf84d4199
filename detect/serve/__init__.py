"""``detect serve``: detection over HTTP, live streams, a live page — on FastAPI + uvicorn.

Why FastAPI + uvicorn and not LitServe: LitServe's batching (``max_batch_size``,
``batch_timeout``) is the part we would take from it, but it owns the request path end to end
(``decode_request`` → ``predict`` → ``encode_response`` in worker processes fed through queues),
which leaves no plain routes for what this server is mostly about besides ``/v1/detect``:
server-sent events, an MJPEG stream, a stream registry living beside the model, a static page.
The batcher we need is small (:mod:`~detect.serve.batcher`: one asyncio queue, one worker, the
detector called in a thread) and works on any backend the library loads (ONNX Runtime, PyTorch,
LiteRT), since it only calls :class:`~detect.models.predictor.Detector`. FastAPI gives pydantic
schemas and OpenAPI docs at ``/docs``; uvicorn gives the HTTP server, ``workers=N`` and a
graceful SIGTERM; prometheus-client the metrics.

Modules: :mod:`config` (the settings), :mod:`batcher` (dynamic batching, bounded queue),
:mod:`uploads` (request bodies → images, every cap checked before decoding), :mod:`security`
(API key, stream source allow-list), :mod:`streams` (the stream registry over the library's
:class:`~detect.inference.stream.DetectionStream`), :mod:`metrics`, :mod:`app` (the routes),
:mod:`run` (uvicorn, workers, signals), ``static/`` (the live page).
"""

import importlib.util

from detect.errors import ConfigError, install_hint
from detect.serve.config import ServeConfig

EXTRA = ("fastapi", "uvicorn", "prometheus_client", "multipart")


def require_extra() -> None:
    """The serve extra's packages are installed, or one error naming the extra."""
    missing = [name for name in EXTRA if importlib.util.find_spec(name) is None]
    if missing:
        raise ConfigError(
            f"detect serve needs the serve extra (missing: {', '.join(missing)}): "
            + install_hint("serve")
        )


__all__ = ["ServeConfig", "require_extra"]
