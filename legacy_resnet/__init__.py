"""legacy-resnet runtime: importing it makes tf-slim work on TensorFlow 2.16.2 to 2.21."""

from legacy_resnet import compat  # noqa: F401  (installs the tf-slim fix on import)
