"""The two-colours dataset, as a research/slim dataset module (flowers.py, cifar10.py)
describes its data: 32x32 RGB images, PNG or JPEG encoded, in TFRecord files
``two_colors_<split>_*.tfrecord`` that tests/test_launcher.py writes; label 0 for reddish
images, 1 for bluish ones."""

import os

import tensorflow as tf

slim = tf.contrib.slim

FILE_PATTERN = 'two_colors_%s_*.tfrecord'
# The number of examples tests/test_launcher.py writes for each split.
SPLITS_TO_SIZES = {'train': 16, 'validation': 8}
NUM_CLASSES = 2
IMAGE_SIZE = 32
_ITEMS_TO_DESCRIPTIONS = {
    'image': 'A 32x32 colour image.',
    'label': '0 (reddish) or 1 (bluish).',
}


def get_split(split_name, dataset_dir):
  """A slim Dataset that reads split ``split_name`` ('train' or 'validation') from
  ``dataset_dir``; items 'image' (uint8 [32, 32, 3]) and 'label' (int64 scalar)."""
  if split_name not in SPLITS_TO_SIZES:
    raise ValueError('split name %s was not recognized.' % split_name)
  keys_to_features = {
      'image/encoded': tf.FixedLenFeature((), tf.string, default_value=''),
      'image/format': tf.FixedLenFeature((), tf.string, default_value='png'),
      'image/class/label': tf.FixedLenFeature([], tf.int64,
                                              default_value=tf.zeros([], dtype=tf.int64)),
  }
  items_to_handlers = {
      'image': slim.tfexample_decoder.Image(shape=[IMAGE_SIZE, IMAGE_SIZE, 3], channels=3),
      'label': slim.tfexample_decoder.Tensor('image/class/label'),
  }
  decoder = slim.tfexample_decoder.TFExampleDecoder(keys_to_features, items_to_handlers)
  return slim.dataset.Dataset(
      data_sources=os.path.join(dataset_dir, FILE_PATTERN % split_name),
      reader=tf.TFRecordReader,
      decoder=decoder,
      num_samples=SPLITS_TO_SIZES[split_name],
      items_to_descriptions=_ITEMS_TO_DESCRIPTIONS,
      num_classes=NUM_CLASSES)


def preprocess(image):
  """uint8 [0, 255] -> float32 [-1, 1]."""
  return tf.to_float(image) / 127.5 - 1.0
