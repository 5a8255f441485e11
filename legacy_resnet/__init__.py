"""legacy-resnet runtime: importing it makes tf-slim work on TensorFlow 2.16.2 to 2.21,
with TensorFlow's oneDNN CPU kernels on whatever the CPU."""

from legacy_resnet import onednn

onednn.enable_unless_chosen()  # Before compat imports TensorFlow: it reads the variable once.

from legacy_resnet import compat  # noqa: E402,F401  (installs the tf-slim fix on import)
