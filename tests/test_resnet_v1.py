"""nets.resnet_v1 and nets.resnet_v2: end points, shapes, named nets and arg_scope
behaviour (the checks of tf-slim's resnet_v1_test.py and resnet_v2_test.py)."""

import re

import netutil
import numpy as np
import pytest
import tensorflow as tf
import tf_slim as slim

from nets import resnet_utils
from nets import resnet_v1
from nets import resnet_v2

pytestmark = netutil.QUIET


def _build_tiny(shape, num_classes=None, family=resnet_v1, **kwargs):
  """Builds netutil.tiny_resnet under resnet_arg_scope on zeros (or a placeholder
  when ``shape`` has unknown dimensions) in the current graph."""
  inputs = netutil.placeholder(shape) if None in shape else tf.zeros(shape)
  with slim.arg_scope(resnet_utils.resnet_arg_scope()):
    net, end_points = netutil.tiny_resnet(inputs, num_classes, family=family, **kwargs)
  return inputs, net, end_points


def _static_shapes(end_points, names):
  return {name: end_points[name].get_shape().as_list() for name in names}


def _block_shapes(batch, sides, depths=(4, 8, 16, 32)):
  return {'resnet/block%d' % (index + 1): [batch, side, side, depth]
          for index, (side, depth) in enumerate(zip(sides, depths))}


def _unit_end_points(unit, convs, projected):
  names = [unit] + ['%s/%s' % (unit, conv) for conv in convs]
  return names + (['%s/shortcut' % unit] if projected else [])


@netutil.OVER_FAMILIES
@pytest.mark.parametrize('kind, unit_name, convs', [
    ('bottleneck', 'bottleneck_v%d', ['conv1', 'conv2', 'conv3']),
    ('basic', 'basic_v%d', ['conv1', 'conv2']),
])
def test_end_point_names_of_a_two_block_resnet(family, kind, unit_name, convs):
  unit_name %= 1 if family is resnet_v1 else 2
  expected = {'resnet/block1', 'resnet/block2', 'resnet/logits', 'resnet/spatial_squeeze',
              'global_pool', 'predictions'}
  for block in (1, 2):
    for unit in (1, 2):
      # Only the first unit of a block changes depth and needs a projection.
      expected.update(_unit_end_points('resnet/block%d/unit_%d/%s' % (block, unit, unit_name),
                                       convs, projected=unit == 1))
  with tf.Graph().as_default():
    inputs = tf.zeros([2, 32, 16, 3])
    with slim.arg_scope(resnet_utils.resnet_arg_scope()):
      _, end_points = netutil.tiny_resnet(
          inputs, 3, kind, spec=((1, 2, 2), (2, 2, 1)), family=family,
          include_root_block=False)
  assert set(end_points) == expected


@pytest.mark.parametrize('spatial_squeeze, logits_shape', [(True, [2, 10]), (False, [2, 1, 1, 10])],
                         ids=['squeezed', 'unsqueezed'])
@netutil.OVER_FAMILIES
def test_classification_end_points_and_shapes(family, spatial_squeeze, logits_shape):
  with tf.Graph().as_default():
    _, logits, end_points = _build_tiny([2, 224, 224, 3], 10, spatial_squeeze=spatial_squeeze,
                                        family=family)
  assert logits.op.name.startswith('resnet/')
  assert logits.get_shape().as_list() == logits_shape
  assert end_points['predictions'].get_shape().as_list() == logits_shape
  assert _static_shapes(end_points, ['resnet/conv1', 'resnet/logits', 'global_pool']) == {
      'resnet/conv1': [2, 112, 112, 64], 'resnet/logits': [2, 1, 1, 10],
      'global_pool': [2, 1, 1, 32]}
  expected = _block_shapes(2, [28, 14, 7, 7])
  assert _static_shapes(end_points, expected) == expected


@netutil.OVER_FAMILIES
def test_fully_convolutional_end_point_shapes(family):
  with tf.Graph().as_default():
    _, logits, end_points = _build_tiny([2, 321, 321, 3], 10, global_pool=False, family=family)
  expected = _block_shapes(2, [41, 21, 11, 11])
  assert _static_shapes(end_points, expected) == expected
  assert logits.get_shape().as_list() == [2, 11, 11, 10]
  assert 'global_pool' not in end_points


@netutil.OVER_FAMILIES
def test_rootless_fully_convolutional_end_point_shapes(family):
  with tf.Graph().as_default():
    _, _, end_points = _build_tiny([2, 128, 128, 3], 10, global_pool=False,
                                   include_root_block=False, family=family)
  expected = _block_shapes(2, [64, 32, 16, 16])
  assert _static_shapes(end_points, expected) == expected
  assert 'resnet/conv1' not in end_points


@netutil.OVER_FAMILIES
def test_rootless_net_accepts_output_stride_that_is_not_a_multiple_of_four(family):
  with tf.Graph().as_default():
    _, _, end_points = _build_tiny([2, 64, 64, 3], global_pool=False, output_stride=2,
                                   include_root_block=False, family=family)
  expected = _block_shapes(2, [32, 32, 32, 32])
  assert _static_shapes(end_points, expected) == expected


@pytest.mark.parametrize('output_stride, sides', [
    (4, [81, 81, 81, 81]), (8, [41, 41, 41, 41]), (16, [41, 21, 21, 21])], ids=['4', '8', '16'])
@netutil.OVER_FAMILIES
def test_atrous_fully_convolutional_end_point_shapes(family, output_stride, sides):
  with tf.Graph().as_default():
    _, _, end_points = _build_tiny([2, 321, 321, 3], 10, global_pool=False,
                                   output_stride=output_stride, family=family)
  expected = _block_shapes(2, sides)
  assert _static_shapes(end_points, expected) == expected


@pytest.mark.parametrize('output_stride', [2, 6, 10])
@netutil.OVER_FAMILIES
def test_root_block_requires_output_stride_multiple_of_four(family, output_stride):
  with tf.Graph().as_default():
    with pytest.raises(ValueError, match='multiple of 4'):
      _build_tiny([1, 64, 64, 3], global_pool=False, output_stride=output_stride, family=family)


@netutil.OVER_FAMILIES
def test_unknown_batch_size(family):
  with netutil.graph_session() as sess:
    inputs, logits, _ = _build_tiny([None, 65, 65, 3], 10, family=family)
    assert logits.get_shape().as_list() == [None, 10]
    netutil.initialize(sess)
    out = sess.run(logits, {inputs: netutil.grid_image(2, 65, 65)})
  assert out.shape == (2, 10)


@pytest.mark.parametrize('output_stride, side', [(None, 3), (8, 9)], ids=['nominal', '8'])
@netutil.OVER_FAMILIES
def test_fully_convolutional_unknown_height_and_width(family, output_stride, side):
  with netutil.graph_session() as sess:
    inputs, features, _ = _build_tiny([2, None, None, 3], global_pool=False,
                                      output_stride=output_stride, family=family)
    assert features.get_shape().as_list() == [2, None, None, 32]
    netutil.initialize(sess)
    out = sess.run(features, {inputs: netutil.grid_image(2, 65, 65)})
  assert out.shape == (2, side, side, 32)


NAMED_BASIC_NETS = [
    # Trainable parameter counts with 1000 classes are those of the paper's nets
    # (torchvision's resnet18 and resnet34 have the same layers).
    (resnet_v1.resnet_v1_18, (2, 2, 2, 2), 11689512),
    (resnet_v1.resnet_v1_34, (3, 4, 6, 3), 21797672),
    # Pre-activation moves batch norm: each unit normalizes its input (2 per input
    # channel) instead of its second conv's output, which gets biases (1 per channel);
    # projections have biases instead of batch norm, the root conv biases instead of
    # batch norm, and 'postnorm' adds 2 * 512. Summed over the units: +1088 and +2944.
    (resnet_v2.resnet_v2_18, (2, 2, 2, 2), 11689512 + 1088),
    (resnet_v2.resnet_v2_34, (3, 4, 6, 3), 21797672 + 2944),
]
NAMED_IDS = ['resnet_v1_18', 'resnet_v1_34', 'resnet_v2_18', 'resnet_v2_34']


def _build_named(network, num_classes, inputs):
  with slim.arg_scope(resnet_utils.resnet_arg_scope()):
    return network(inputs, num_classes)


@pytest.mark.parametrize('network, units, _', NAMED_BASIC_NETS, ids=NAMED_IDS)
def test_named_basic_net_has_expected_units_per_block(network, units, _):
  with tf.Graph().as_default():
    _, end_points = _build_named(network, 5, tf.zeros([1, 32, 32, 3]))
  pattern = re.compile(r'^%s/block(\d)/unit_(\d+)/basic_v[12]$' % network.__name__)
  found = [pattern.match(name).groups() for name in end_points if pattern.match(name)]
  assert tuple(sum(1 for block, _ in found if block == str(index))
               for index in (1, 2, 3, 4)) == units


@pytest.mark.parametrize('network, _, parameters', NAMED_BASIC_NETS, ids=NAMED_IDS)
def test_named_basic_net_has_the_expected_parameter_count(network, _, parameters):
  with tf.Graph().as_default():
    _build_named(network, 1000, tf.zeros([1, 32, 32, 3]))
    count = sum(int(np.prod(v.get_shape().as_list()))
                for v in tf.compat.v1.trainable_variables())
  assert count == parameters


@pytest.mark.parametrize('network', [net for net, _, _ in NAMED_BASIC_NETS], ids=NAMED_IDS)
def test_named_basic_net_produces_logits(network):
  with netutil.graph_session() as sess:
    logits, end_points = _build_named(network, 5, tf.constant(netutil.random_images(2, 32, 32)))
    netutil.initialize(sess)
    logits, predictions = sess.run([logits, end_points['predictions']])
  assert logits.shape == (2, 5)
  assert np.all(np.isfinite(logits))
  np.testing.assert_allclose(predictions.sum(axis=1), 1.0, rtol=1e-5)


def _conv_weights(kind, family=resnet_v1, **user_conv_args):
  """Initialized values of every conv kernel of a tiny net built under
  resnet_arg_scope() and then the user's own slim.conv2d arg_scope."""
  with netutil.graph_session() as sess:
    with slim.arg_scope(resnet_utils.resnet_arg_scope()):
      with slim.arg_scope([slim.conv2d], **user_conv_args):
        netutil.tiny_resnet(tf.zeros([1, 32, 32, 3]), 4, kind=kind, family=family)
    netutil.initialize(sess)
    return sess.run({v.op.name: v for v in netutil.variables_named('/weights')})


# Kernels: root conv, one per conv of the 11 units, 4 projections and the logits.
@pytest.mark.parametrize('kind, kernels', [('bottleneck', 1 + 33 + 4 + 1), ('basic', 1 + 22 + 4 + 1)])
@netutil.OVER_FAMILIES
def test_user_arg_scope_initializer_reaches_every_conv(family, kind, kernels):
  weights = _conv_weights(kind, family, weights_initializer=tf.compat.v1.zeros_initializer())
  assert len(weights) == kernels
  assert [name for name, value in weights.items() if np.any(value)] == []


@netutil.OVER_FAMILIES
def test_without_user_arg_scope_conv_weights_are_random(family):
  weights = _conv_weights('bottleneck', family)
  assert [name for name, value in weights.items() if not np.any(value)] == []


@netutil.OVER_FAMILIES
def test_predictions_only_with_classes(family):
  with tf.Graph().as_default():
    _, features, end_points = _build_tiny([2, 64, 64, 3], family=family)
  assert 'predictions' not in end_points
  assert 'resnet/logits' not in end_points
  assert features.get_shape().as_list() == [2, 1, 1, 32]
