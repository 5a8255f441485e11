"""Checkpoints and the train dir: saving, finding, checking, locking."""
