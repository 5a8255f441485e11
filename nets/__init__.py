"""Network definitions written with tf-slim layers. Importing this package applies
the TensorFlow 2.x compatibility fix from ``legacy_resnet.core.compat``."""

from legacy_resnet.core import compat  # noqa: F401  (tf-slim's layers need it first)
