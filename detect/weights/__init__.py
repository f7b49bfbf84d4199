"""Weights in and out of files: standalone detect checkpoints (readable without Lightning)."""
