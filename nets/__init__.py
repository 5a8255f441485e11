"""Network definitions written with tf-slim layers. Importing this package applies
the TensorFlow 2.x compatibility fix from ``legacy_resnet.platform.compat``."""

from legacy_resnet.platform import compat  # noqa: F401  (tf-slim's layers need it first)
