"""Reading user image files (JPEG, PNG, GIF, BMP) with TensorFlow's decoders."""

import numpy as np
import tensorflow as tf

from legacy_resnet.core import limits
from legacy_resnet.core.errors import SettingError
from legacy_resnet.core.errors import first_cause


def read_image(path, size=None):
  """Decodes ``path`` to float32 [height, width, 3] in [0, 1], resized (bilinear) to
  ``size`` (height, width) unless None; a missing, empty, undecodable or too large file
  (``limits.read_image_file``) raises a UsageError."""
  data = limits.read_image_file(path)
  try:
    with tf.device('/device:CPU:0'):
      image = tf.io.decode_image(data, channels=3, expand_animations=False)
      image = tf.image.convert_image_dtype(image, tf.float32)
      if size is not None:
        image = tf.image.resize(image, size)
      return np.clip(image.numpy(), 0.0, 1.0)
  except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError) as error:
    raise SettingError('{images} %s: not a decodable image (%s)', path,
                       first_cause(error)) from None
