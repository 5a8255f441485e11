"""Input preprocessing by name, as tensorflow/models' slim ``preprocessing_factory``
has it, for images that arrive as float32 [batch, height, width, 3] in [0, 1]: ``signs``
(as they are), ``vgg`` and ``inception`` (slim's evaluation-time transforms, which a zoo
checkpoint expects; docs/slim_zoo.md). Resizing is bilinear without corner alignment
and without half-pixel centres, as slim's ``tf.image.resize_bilinear``.
"""

import collections

import tensorflow as tf

VGG_RGB_MEANS = (123.68, 116.78, 103.94)
INCEPTION_CENTRAL_FRACTION = 0.875
# slim's vgg_preprocessing resizes the smallest side to 256 for its 224 crop.
VGG_RESIZE_RATIO = 256.0 / 224.0

# How images become network inputs: ``name``, one of PREPROCESSING_NAMES, and ``image_size``,
# the network's (height, width), or None for the images' own size.
Preprocessing = collections.namedtuple('Preprocessing', ['name', 'image_size'])


def central_crop_box(side, fraction):
  """(start, length) of the central ``fraction`` of ``side`` pixels, as slim's
  ``tf.image.central_crop``."""
  start = int((side - side * fraction) / 2)
  return start, side - 2 * start


def vgg_resized_size(height, width, size):
  """(height, width) after slim's aspect-preserving resize for output ``size``, rounded
  half to even (slim's ``tf.math.rint``)."""
  scale = round(max(size) * VGG_RESIZE_RATIO) / float(min(height, width))
  return round(height * scale), round(width * scale)


def _resize_to(images, size):
  if tuple(size) == tuple(images.get_shape().as_list()[1:3]):
    return images
  return tf.compat.v1.image.resize_bilinear(images, size, align_corners=False)


def _vgg_geometry(images, size):
  resized_size = vgg_resized_size(*images.get_shape().as_list()[1:3], size)
  top, left = ((resized - wanted) // 2 for resized, wanted in zip(resized_size, size))
  return _resize_to(images, resized_size)[:, top:top + size[0], left:left + size[1], :]


def _inception_geometry(images, size):
  height, width = images.get_shape().as_list()[1:3]
  top, crop_height = central_crop_box(height, INCEPTION_CENTRAL_FRACTION)
  left, crop_width = central_crop_box(width, INCEPTION_CENTRAL_FRACTION)
  return _resize_to(images[:, top:top + crop_height, left:left + crop_width, :], size)


# name -> (geometry(images, size), pixels(images)).
_PREPROCESSING_FNS = {
    'signs': (_resize_to, lambda images: images),
    'vgg': (_vgg_geometry, lambda images: images * 255.0 - tf.constant(VGG_RGB_MEANS)),
    'inception': (_inception_geometry, lambda images: (images - 0.5) * 2.0),
}
PREPROCESSING_NAMES = tuple(sorted(_PREPROCESSING_FNS))


def preprocess(images, preprocessing, geometry=True):
  """The network inputs, float32 [batch, *preprocessing.image_size (or height, width), 3],
  of ``images``, float32 [batch, height, width, 3] in [0, 1] (height and width known);
  without ``geometry`` only pixel values change, as dense (FCN-mode) features need. Raises
  ValueError for an unknown name."""
  if preprocessing.name not in _PREPROCESSING_FNS:
    raise ValueError('unknown preprocessing %r (known: %s)'
                     % (preprocessing.name, ', '.join(PREPROCESSING_NAMES)))
  geometry_fn, pixels_fn = _PREPROCESSING_FNS[preprocessing.name]
  with tf.name_scope('preprocessing'):
    if geometry:
      images = geometry_fn(images, tuple(preprocessing.image_size
                                         or images.get_shape().as_list()[1:3]))
    return pixels_fn(images)


class InputPipeline(collections.namedtuple(
    'InputPipeline', ['name', 'train_image_size', 'eval_image_size', 'labels_offset'])):
  """A run's preprocessing, recorded in its metadata so that evaluation, prediction,
  dense features and export apply it too: ``name`` (one of ``PREPROCESSING_NAMES``), the
  network's square input side when training and when evaluating (None: the images' own),
  and ``labels_offset``, the network's extra first logits, dropped (1 for slim's 1001-class
  checkpoints, whose logit 0 is 'background')."""

  METADATA_KEY = 'preprocessing'

  def metadata_entries(self):
    """What a run's metadata records of this pipeline: nothing for the default."""
    if self == DEFAULT_PIPELINE:
      return {}
    return {self.METADATA_KEY: dict(self._asdict())}

  @classmethod
  def from_settings(cls, settings):
    """The pipeline of a settings.InputSettings."""
    return cls(settings.preprocessing_name, settings.train_image_size,
               settings.eval_image_size or settings.train_image_size, settings.labels_offset)

  @classmethod
  def from_metadata(cls, metadata):
    """The pipeline recorded in a run's ``metadata`` (the default if none)."""
    recorded = metadata.get(cls.METADATA_KEY)
    return cls(**recorded) if recorded else DEFAULT_PIPELINE

  def wrap(self, network_fn):
    """``network_fn`` (made for num_classes + labels_offset classes) on images in [0, 1],
    of the training size unless ``is_training`` is the constant False, or their own with
    ``global_pool=False``; logits (and 'predictions') lose their first ``labels_offset``."""
    if self == DEFAULT_PIPELINE:
      return network_fn

    def network(images, is_training=False, **network_args):
      side = self.eval_image_size if is_training is False else self.train_image_size
      inputs = preprocess(images, Preprocessing(self.name, side and (side, side)),
                          geometry=network_args.get('global_pool', True))
      logits, end_points = network_fn(inputs, is_training=is_training, **network_args)
      if self.labels_offset:
        logits = logits[..., self.labels_offset:]
        if 'predictions' in end_points:
          end_points = dict(end_points, predictions=tf.nn.softmax(logits))
      return logits, end_points

    return network


DEFAULT_PIPELINE = InputPipeline('signs', None, None, 0)
