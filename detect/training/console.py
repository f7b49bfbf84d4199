"""Console output a person can read: Lightning's promotional tips and internal chatter out."""

from __future__ import annotations

import logging

NOISE = (
    "💡 Tip:",  # Lightning advertises its cloud products on every run
    "Loading `train_dataloader` to estimate",  # how it sizes the schedule: not news to a user
)


class DropNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(NOISE)


def quiet_lightning_tips() -> None:
    """Drop Lightning's product tips and chatter from its info logs (idempotent)."""
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, DropNoise) for f in logger.filters):
            logger.addFilter(DropNoise())
