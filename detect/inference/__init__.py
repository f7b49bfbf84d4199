"""Inference: images in, detections in original pixels out."""
