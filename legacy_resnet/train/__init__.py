"""The one-process training run: its step loop, checkpoints, summaries and curves."""
