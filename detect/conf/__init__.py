"""Hydra configs of the detect command, shipped in the wheel (pkg://detect.conf)."""
