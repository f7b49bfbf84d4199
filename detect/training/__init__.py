"""Training: the Lightning module, its optimiser and EMA parts, checkpoints and the run wiring."""
