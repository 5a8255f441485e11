"""legacy_resnet.data.preprocessing against the formulas of slim's vgg and inception
preprocessing (evaluation path): means, scaling, crops and resized sizes."""

import numpy as np
import pytest
import tensorflow as tf

from legacy_resnet.data import preprocessing
from legacy_resnet.data.preprocessing import Preprocessing

VGG_MEANS = np.array([123.68, 116.78, 103.94], np.float32)


def _images(height, width, batch=2, seed=0):
  return np.random.default_rng(seed).uniform(0, 1, (batch, height, width, 3)).astype(np.float32)


def _run(images, name, image_size=None):
  with tf.Graph().as_default():
    inputs = tf.constant(images)
    outputs = preprocessing.preprocess(inputs, Preprocessing(name, image_size))
    static_shape = outputs.get_shape().as_list()
    with tf.compat.v1.Session() as sess:
      result = sess.run(outputs)
  assert static_shape == list(result.shape)
  return result


def _resize_rows(image, size):
  """TF1 bilinear resize (no corner alignment, no half-pixel centres) along axis 1:
  output row i samples input row i * in / out."""
  source = np.arange(size) * image.shape[1] / size
  low = np.floor(source).astype(int)
  high = np.minimum(low + 1, image.shape[1] - 1)
  weight = (source - low).reshape(1, size, 1, 1)
  return image[:, low] * (1 - weight) + image[:, high] * weight


def _resize(image, height, width):
  """The same resize on both axes (bilinear interpolation is separable)."""
  rows = _resize_rows(image, height)
  return _resize_rows(rows.transpose(0, 2, 1, 3), width).transpose(0, 2, 1, 3)


def test_signs_keeps_zero_to_one_pixels():
  images = _images(64, 64)
  np.testing.assert_array_equal(_run(images, 'signs'), images)
  np.testing.assert_array_equal(_run(images, 'signs', (64, 64)), images)


def test_signs_resizes_to_the_image_size():
  images = _images(16, 20)
  np.testing.assert_allclose(_run(images, 'signs', (40, 30)), _resize(images, 40, 30),
                             atol=1e-5)


def test_vgg_subtracts_the_rgb_means_from_0_255_pixels_of_the_central_crop():
  # At 256 x 256 for a 224 crop there is nothing to resize: slim crops the centre.
  images = _images(256, 256, batch=1)
  expected = images[:, 16:240, 16:240] * 255.0 - VGG_MEANS
  np.testing.assert_allclose(_run(images, 'vgg', (224, 224)), expected, atol=1e-4)


def test_vgg_resizes_the_smallest_side_to_256_for_224_keeping_the_aspect_ratio():
  images = _images(64, 48, batch=1)
  # 256 / 48 scales 64 to 341.33 -> 341; the 224 crop starts at (341 - 224) // 2 = 58.
  assert preprocessing.vgg_resized_size(64, 48, (224, 224)) == (341, 256)
  resized = _resize(images, 341, 256)
  expected = resized[:, 58:282, 16:240] * 255.0 - VGG_MEANS
  np.testing.assert_allclose(_run(images, 'vgg', (224, 224)), expected, atol=2e-3)


def test_inception_crops_the_central_87_5_percent_and_scales_to_minus_one_one():
  images = _images(64, 64)
  # int((64 - 56) / 2) = 4: rows and columns 4 .. 59 remain, already 56 x 56.
  expected = (images[:, 4:60, 4:60] - 0.5) * 2.0
  np.testing.assert_allclose(_run(images, 'inception', (56, 56)), expected, atol=1e-6)
  full_range = _run(np.stack([np.zeros([64, 64, 3]), np.ones([64, 64, 3])]).astype(np.float32),
                    'inception', (224, 224))
  np.testing.assert_allclose(full_range[0], -1.0)
  np.testing.assert_allclose(full_range[1], 1.0)


def test_inception_resizes_the_crop_to_the_image_size():
  images = _images(64, 64)
  expected = (_resize(images[:, 4:60, 4:60], 224, 224) - 0.5) * 2.0
  np.testing.assert_allclose(_run(images, 'inception', (224, 224)), expected, atol=1e-5)


@pytest.mark.parametrize('side', [33, 64, 65, 225])
def test_central_crop_box_is_that_of_tf_image_central_crop(side):
  start, length = preprocessing.central_crop_box(side, 0.875)
  image = np.arange(side, dtype=np.float32).reshape(side, 1, 1) * np.ones([1, side, 1])
  with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
    cropped = sess.run(tf.image.central_crop(tf.constant(image), 0.875))
  np.testing.assert_array_equal(cropped[:, 0, 0], np.arange(start, start + length))


@pytest.mark.parametrize('name', ['signs', 'vgg', 'inception'])
def test_without_image_size_the_output_keeps_the_input_size(name):
  assert _run(_images(64, 64), name).shape == (2, 64, 64, 3)


def test_unknown_name_lists_the_known_ones():
  with tf.Graph().as_default():
    with pytest.raises(ValueError, match="unknown preprocessing 'lenet' .*inception, signs, vgg"):
      preprocessing.preprocess(tf.zeros([1, 8, 8, 3]), Preprocessing('lenet', None))
