"""Restoring a checkpoint to evaluate, predict, draw and watch a training run."""
