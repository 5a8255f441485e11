"""The tensorflow/models slim API on both ResNet families: min_base_depth and
depth_multiplier, store_non_strided_activations, v1's use_bounded_activations and
multi-grid unit rates in the last block."""

import netutil
import numpy as np
import pytest
import tensorflow as tf
import tf_slim as slim

from nets import resnet_utils
from nets import resnet_v1
from nets import resnet_v2

pytestmark = netutil.QUIET

NETS_18 = pytest.mark.parametrize('network', [resnet_v1.resnet_v1_18, resnet_v2.resnet_v2_18],
                                  ids=['resnet_v1_18', 'resnet_v2_18'])


def _block_depths(network, **network_args):
  with tf.Graph().as_default():
    with slim.arg_scope(resnet_utils.resnet_arg_scope()):
      _, end_points = network(tf.zeros([1, 32, 32, 3]), **network_args)
  name = network.__name__
  return ([end_points['%s/conv1' % name].shape[-1]]
          + [end_points['%s/block%d' % (name, index)].shape[-1] for index in (1, 2, 3, 4)])


@NETS_18
@pytest.mark.parametrize('network_args, depths', [
    ({}, [64, 64, 128, 256, 512]),
    # max(int(base * 0.5), 48): the first block is held at min_base_depth.
    ({'depth_multiplier': 0.5, 'min_base_depth': 48}, [64, 48, 64, 128, 256]),
    ({'depth_multiplier': 0.1}, [64, 8, 12, 25, 51]),
], ids=['defaults', 'half-min48', 'tenth-min8'])
def test_block_depth_is_base_depth_times_multiplier_at_least_min_base_depth(
    network, network_args, depths):
  assert _block_depths(network, **network_args) == depths


@netutil.OVER_FAMILIES
def test_depth_multiplier_scales_the_bottleneck_depths(family):
  network = getattr(family, family.__name__.rsplit('.', 1)[-1] + '_50')
  # Bottleneck blocks are 4 * base deep: 4 * max(int(base * 0.25), 20).
  assert _block_depths(network, depth_multiplier=0.25, min_base_depth=20) == [
      64, 80, 128, 256, 512]


def _tiny_outputs(family, output_stride, store_non_strided_activations, reuse):
  inputs = tf.constant(netutil.random_images(1, 33, 33))
  with slim.arg_scope(netutil.inference_arg_scope()):
    return netutil.tiny_resnet(
        inputs, family=family, is_training=False, global_pool=False, output_stride=output_stride,
        store_non_strided_activations=store_non_strided_activations, reuse=reuse)


@netutil.OVER_FAMILIES
@pytest.mark.parametrize('output_stride', [None, 8])
def test_store_non_strided_activations_keeps_block_outputs_before_their_stride(
    family, output_stride):
  with netutil.graph_session() as sess:
    strided = _tiny_outputs(family, output_stride, False, reuse=None)
    stored = _tiny_outputs(family, output_stride, True, reuse=True)
    netutil.initialize(sess)
    (strided_net, strided_points), (stored_net, stored_points) = sess.run([strided, stored])
  # The net's output does not change; block end points are denser by each block's
  # stride until output_stride is reached (root 4, then blocks of stride 2, 2, 2, 1).
  netutil.assert_relatively_close(stored_net, strided_net, 1e-5)
  factors = {None: (2, 2, 2, 1), 8: (2, 1, 1, 1)}[output_stride]
  for index, factor in enumerate(factors):
    name = 'resnet/block%d' % (index + 1)
    assert stored_points[name].shape[1] == strided_points[name].shape[1] * factor - (factor - 1)
    netutil.assert_relatively_close(stored_points[name][:, ::factor, ::factor],
                                    strided_points[name], 1e-5)


def _bounded_unit_tensors(kind, use_bounded_activations):
  """End points of every first (projecting) unit of a tiny v1 on large inputs:
  {unit: (shortcut, last conv, output)}."""
  last_conv = {'bottleneck': 'conv3', 'basic': 'conv2'}[kind]
  with netutil.graph_session() as sess:
    with slim.arg_scope(netutil.inference_arg_scope()):
      with slim.arg_scope([resnet_v1.bottleneck, resnet_v1.basic],
                          use_bounded_activations=use_bounded_activations):
        _, end_points = netutil.tiny_resnet(
            tf.constant(50 * netutil.random_images(2, 33, 33)), 3, kind=kind, is_training=False)
    netutil.initialize(sess)
    unit = 'resnet/block%d/unit_1/' + kind + '_v1'
    return sess.run({index: (end_points[unit % index + '/shortcut'],
                             end_points[unit % index + '/' + last_conv],
                             end_points[unit % index])
                     for index in (1, 2, 3, 4)})


@pytest.mark.parametrize('kind', ['bottleneck', 'basic'])
def test_bounded_activations_clip_the_residual_and_use_relu6(kind):
  for unit, (shortcut, residual, output) in _bounded_unit_tensors(kind, True).items():
    assert shortcut.min() >= 0 and shortcut.max() <= 6, unit
    expected = np.clip(shortcut + np.clip(residual, -6, 6), 0, 6)
    np.testing.assert_allclose(output, expected, rtol=1e-5, atol=1e-5, err_msg=str(unit))


@pytest.mark.parametrize('kind', ['bottleneck', 'basic'])
def test_unbounded_activations_are_plain_relu(kind):
  tensors = _bounded_unit_tensors(kind, False)
  # These inputs drive activations past 6, so the bounded test above can fail.
  assert max(np.abs(residual).max() for _, residual, _ in tensors.values()) > 6
  for unit, (shortcut, residual, output) in tensors.items():
    np.testing.assert_allclose(output, np.maximum(shortcut + residual, 0), rtol=1e-5,
                               atol=1e-5, err_msg=str(unit))


def _last_block_by_hand(family, kind, net, rate, unit_rates):
  """The tiny net's last block again (reusing its variables), each unit called with
  atrous rate ``rate * unit rate`` and stride 1."""
  block = netutil.tiny_blocks(kind, family=family)[-1]
  with tf.compat.v1.variable_scope('resnet/' + block.scope, reuse=True):
    for index, (unit, unit_rate) in enumerate(zip(block.args, unit_rates)):
      with tf.compat.v1.variable_scope('unit_%d' % (index + 1)):
        net = block.unit_fn(net, rate=rate * unit_rate, **dict(unit, stride=1))
  return net


@netutil.OVER_FAMILIES
@pytest.mark.parametrize('kind', ['bottleneck', 'basic'])
@pytest.mark.parametrize('output_stride, last_block_rate', [(8, 4), (16, 2)])
def test_multi_grid_equals_last_block_built_with_those_rates(family, kind, output_stride,
                                                             last_block_rate):
  unit_rates = (2, 3)  # The tiny last block has two units.
  builder = getattr(family, family.__name__.rsplit('.', 1)[-1])
  blocks = netutil.tiny_blocks(kind, family=family)
  blocks[-1] = resnet_utils.with_multi_grid(blocks[-1], unit_rates)
  with netutil.graph_session() as sess:
    inputs = tf.constant(netutil.random_images(1, 65, 65))
    with slim.arg_scope(netutil.inference_arg_scope()):
      _, end_points = builder(inputs, blocks, is_training=False, global_pool=False,
                              output_stride=output_stride, scope='resnet')
      by_hand = _last_block_by_hand(family, kind, end_points['resnet/block3'],
                                    last_block_rate, unit_rates)
      plain = _last_block_by_hand(family, kind, end_points['resnet/block3'],
                                  last_block_rate, (1, 1))
    netutil.initialize(sess)
    multi_grid, by_hand, plain = sess.run([end_points['resnet/block4'], by_hand, plain])
  netutil.assert_relatively_close(multi_grid, by_hand, 1e-5)
  assert netutil.relative_error(plain, by_hand) > 1e-3  # The rates do matter.


@NETS_18
def test_named_nets_take_multi_grid_for_their_last_block(network):
  outputs = {}
  with netutil.graph_session() as sess:
    inputs = tf.constant(netutil.random_images(1, 33, 33))
    with slim.arg_scope(resnet_utils.resnet_arg_scope()):
      for multi_grid in (None, (1, 1), (1, 2)):
        outputs[multi_grid] = network(inputs, is_training=False, global_pool=False,
                                      output_stride=16, multi_grid=multi_grid,
                                      reuse=multi_grid is not None)[1]
    netutil.initialize(sess)
    blocks = sess.run({key: (points[network.__name__ + '/block3'],
                             points[network.__name__ + '/block4'])
                       for key, points in outputs.items()})
  np.testing.assert_array_equal(blocks[(1, 1)][1], blocks[None][1])
  np.testing.assert_array_equal(blocks[(1, 2)][0], blocks[None][0])
  assert netutil.relative_error(blocks[(1, 2)][1], blocks[None][1]) > 1e-3


@NETS_18
@pytest.mark.parametrize('multi_grid', [(1, 2, 4), (1, 0), (1.5, 2)])
def test_multi_grid_needs_one_positive_integer_rate_per_unit(network, multi_grid):
  with tf.Graph().as_default():
    with pytest.raises(ValueError, match='multi_grid needs 2 positive integer rates for block4'):
      network(tf.zeros([1, 33, 33, 3]), multi_grid=multi_grid)
