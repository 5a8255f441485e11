"""nets.resnet_utils: subsampling, conv2d_same padding and atrous stack_blocks_dense."""

import netutil
import numpy as np
import pytest
import tensorflow as tf
import tf_slim as slim

from nets import resnet_utils
from nets import resnet_v1
from nets import resnet_v2

pytestmark = netutil.QUIET


def _square_ramp(n):
  """[1, n, n, 1] holding 0 .. n*n - 1 row by row."""
  return tf.reshape(tf.range(n * n, dtype=tf.float32), [1, n, n, 1])


@pytest.mark.parametrize('n, kept', [(3, [[0, 2], [6, 8]]), (4, [[0, 2], [8, 10]])])
def test_subsample_keeps_every_second_row_and_column(n, kept):
  with netutil.graph_session() as sess:
    out = sess.run(resnet_utils.subsample(_square_ramp(n), 2))
  np.testing.assert_array_equal(out[0, :, :, 0], kept)


def test_subsample_by_one_returns_its_input():
  with tf.Graph().as_default():
    inputs = _square_ramp(3)
    assert resnet_utils.subsample(inputs, 1) is inputs


def _correlate_same(image, kernel):
  """Stride-1 'SAME' 2-D cross-correlation with zero padding, in numpy."""
  k = kernel.shape[0]
  padded = np.pad(image, k // 2)
  n = image.shape[0]
  return np.array([[np.sum(padded[i:i + k, j:j + k] * kernel) for j in range(n)]
                   for i in range(n)])


def _conv_outputs(n):
  """Runs, with one known 3x3 kernel on the n x n grid image: the stride-1 conv,
  conv2d_same with stride 2 and slim.conv2d with stride 2 and 'SAME' padding."""
  image = netutil.grid_image(1, n, n, 1)
  kernel = netutil.grid_image(1, 3, 3, 1).reshape(3, 3, 1, 1)
  with netutil.graph_session() as sess:
    tf.compat.v1.get_variable('Conv/weights', initializer=kernel)
    tf.compat.v1.get_variable('Conv/biases', initializer=np.zeros([1], np.float32))
    tf.compat.v1.get_variable_scope().reuse_variables()
    dense = slim.conv2d(image, 1, [3, 3], stride=1, scope='Conv')
    same = resnet_utils.conv2d_same(image, 1, 3, stride=2, scope='Conv')
    strided = slim.conv2d(image, 1, [3, 3], stride=2, scope='Conv')
    netutil.initialize(sess)
    outputs = sess.run([dense, same, strided])
  expected_dense = _correlate_same(image[0, :, :, 0], kernel[:, :, 0, 0])
  return expected_dense, [out[0, :, :, 0] for out in outputs]


@pytest.mark.parametrize('n', [4, 5])
def test_conv2d_same_equals_stride_one_conv_subsampled(n):
  expected_dense, (dense, same, _) = _conv_outputs(n)
  np.testing.assert_allclose(dense, expected_dense)
  np.testing.assert_allclose(same, expected_dense[::2, ::2])


def test_strided_same_conv_is_shifted_on_even_input():
  expected_dense, (_, same, strided) = _conv_outputs(4)
  # TF pads 0 before / 1 after here, so its samples sit on the odd pixels.
  np.testing.assert_allclose(strided, expected_dense[1::2, 1::2])
  assert not np.allclose(strided, same)


def test_strided_same_conv_agrees_with_conv2d_same_on_odd_input():
  _, (_, same, strided) = _conv_outputs(5)
  np.testing.assert_allclose(strided, same)


@pytest.mark.parametrize('output_stride', [3, 16])
def test_stack_blocks_dense_rejects_unreachable_output_stride(output_stride):
  with tf.Graph().as_default():
    inputs = tf.zeros([1, 16, 16, 3])
    with slim.arg_scope(resnet_utils.resnet_arg_scope()):
      with pytest.raises(ValueError):
        resnet_utils.stack_blocks_dense(inputs, netutil.tiny_blocks(), output_stride)


def _stack_blocks_at_nominal_stride(net, blocks):
  """Every unit at its own stride and rate 1: the reference for the atrous path."""
  for block in blocks:
    with tf.compat.v1.variable_scope(block.scope, 'block', [net]):
      for index, unit in enumerate(block.args):
        with tf.compat.v1.variable_scope('unit_%d' % (index + 1), values=[net]):
          net = block.unit_fn(net, rate=1, **unit)
  return net


@pytest.mark.parametrize('kind', ['bottleneck', 'basic'])
@pytest.mark.parametrize('output_stride', [1, 2, 4, 8, None])
@netutil.OVER_FAMILIES
def test_atrous_blocks_match_nominal_blocks_subsampled(family, kind, output_stride):
  blocks = netutil.tiny_blocks(kind, family=family)
  factor = netutil.TINY_NOMINAL_STRIDE // (output_stride or netutil.TINY_NOMINAL_STRIDE)
  with netutil.graph_session() as sess:
    # Odd width and even height exercise both padding cases.
    inputs = tf.constant(netutil.random_images(1, 30, 31))
    with slim.arg_scope(netutil.inference_arg_scope()):
      dense = resnet_utils.stack_blocks_dense(inputs, blocks, output_stride)
      tf.compat.v1.get_variable_scope().reuse_variables()
      nominal = _stack_blocks_at_nominal_stride(inputs, blocks)
    netutil.initialize(sess)
    dense, nominal = sess.run([resnet_utils.subsample(dense, factor), nominal])
  assert dense.shape == (1, 4, 4, 32 if kind == 'bottleneck' else 8)
  netutil.assert_relatively_close(dense, nominal)


@pytest.mark.parametrize('output_stride', [4, 8, 16])
@pytest.mark.parametrize('network', [resnet_v1.resnet_v1_18, resnet_v2.resnet_v2_18],
                         ids=['resnet_v1_18', 'resnet_v2_18'])
def test_atrous_resnet_18_matches_nominal_resnet_18_subsampled(network, output_stride):
  with netutil.graph_session() as sess:
    inputs = tf.constant(netutil.random_images(1, 33, 33))
    with slim.arg_scope(resnet_utils.resnet_arg_scope()):
      dense, _ = network(inputs, is_training=False, global_pool=False,
                         output_stride=output_stride)
      nominal, _ = network(inputs, is_training=False, global_pool=False, reuse=True)
    netutil.initialize(sess)
    dense, nominal = sess.run([resnet_utils.subsample(dense, 32 // output_stride), nominal])
  assert nominal.shape == (1, 2, 2, 512)
  netutil.assert_relatively_close(dense, nominal)
