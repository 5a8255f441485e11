"""A training run's settings, each declared once (flag, default, help, range)."""
