"""Network definitions written with tf-slim layers. Importing this package applies
the TensorFlow 2.x compatibility fix from ``legacy_resnet.compat``."""

import legacy_resnet  # noqa: F401  (tf-slim's layers need the compat fix first)
