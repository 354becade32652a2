"""Training: presets, the loop with checkpoints and resume, run folders."""
