"""What a training run is told: each setting declared once, with its flag, default,
help and range; the typed settings, the parser and the flag docs come from it."""
