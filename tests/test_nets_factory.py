"""The nets factory: every network by name with class logits, its arg-scope arguments
(weight decay, batch-norm decay) in effect, and is_training as a default, a per-call
override or a bool tensor."""

import re

import netutil
import numpy as np
import pytest
import tensorflow as tf
import tf_slim as slim

from nets import nets_factory
from nets import resnet50_signs
from nets import resnet_v1
from nets import resnet_v2

pytestmark = netutil.QUIET

EXPECTED_NETWORKS = {
    'resnet_v1_18': (resnet_v1.resnet_v1_18, 224),
    'resnet_v1_34': (resnet_v1.resnet_v1_34, 224),
    'resnet_v1_50': (resnet_v1.resnet_v1_50, 224),
    'resnet_v1_101': (resnet_v1.resnet_v1_101, 224),
    'resnet_v1_152': (resnet_v1.resnet_v1_152, 224),
    'resnet_v1_200': (resnet_v1.resnet_v1_200, 224),
    'resnet_v2_18': (resnet_v2.resnet_v2_18, 224),
    'resnet_v2_34': (resnet_v2.resnet_v2_34, 224),
    'resnet_v2_50': (resnet_v2.resnet_v2_50, 224),
    'resnet_v2_101': (resnet_v2.resnet_v2_101, 224),
    'resnet_v2_152': (resnet_v2.resnet_v2_152, 224),
    'resnet_v2_200': (resnet_v2.resnet_v2_200, 224),
    'resnet50_signs': (resnet50_signs.resnet50_signs, 64),
}
# One network of each family, for the checks that build and run graphs.
FAMILIES = ('resnet_v1_18', 'resnet_v2_18', 'resnet50_signs')
# Building ResNet-152/200 graphs takes 8-12 s each on a shared 2-core machine
# (resnet_v2_101 is built by the exactness tests already).
DEEP = ('resnet_v1_152', 'resnet_v1_200', 'resnet_v2_101', 'resnet_v2_152', 'resnet_v2_200')
UPDATE_OPS = tf.compat.v1.GraphKeys.UPDATE_OPS


def _images(batch=None):
  return netutil.placeholder([batch, 64, 64, 3])


def test_every_network_is_registered_with_its_image_size():
  assert set(nets_factory.networks_map) == set(EXPECTED_NETWORKS)
  assert set(nets_factory.arg_scopes_map) == set(EXPECTED_NETWORKS)
  for name, (network, image_size) in EXPECTED_NETWORKS.items():
    assert nets_factory.networks_map[name] is network
    assert nets_factory.get_network_fn(name, 6).default_image_size == image_size


@pytest.mark.parametrize('name', [pytest.param(name, marks=pytest.mark.slow) if name in DEEP
                                  else name for name in sorted(EXPECTED_NETWORKS)])
def test_every_network_gives_class_logits(name):
  with tf.Graph().as_default():
    logits, end_points = nets_factory.get_network_fn(name, 7)(_images(batch=2))
  assert logits.shape.as_list() == [2, 7]
  assert end_points['predictions'].shape.as_list() == [2, 7]


def test_unknown_name_lists_the_known_ones():
  with pytest.raises(ValueError, match='unknown resnet_v9 .*known: resnet50_signs, resnet_v1_101'):
    nets_factory.get_network_fn('resnet_v9', 6)


@pytest.mark.parametrize('name', FAMILIES)
def test_weight_decay_regularizes_every_weight_tensor(name):
  counts = {}
  for weight_decay in (0.0, 1e-4):
    with tf.Graph().as_default():
      nets_factory.get_network_fn(name, 6, weight_decay=weight_decay)(_images())
      weights = [v for v in slim.get_model_variables() if v.op.name.endswith('/weights')]
      counts[weight_decay] = len(tf.compat.v1.losses.get_regularization_losses())
  assert counts == {0.0: 0, 1e-4: len(weights)}


def _updated_value(sess, update, feed, variable):
  sess.run(update, feed)
  return sess.run(variable)  # Not fetched with the update: that read may come first.


@pytest.mark.parametrize('name', FAMILIES)
def test_batch_norm_decay_reaches_the_moving_averages(name):
  # From a zero moving mean, updates on the same batch mean m give (1 - d) m, then
  # (1 - d ** 2) m: the second is (1 + d) times the first.
  decay = 0.5
  with netutil.graph_session() as sess:
    images = _images()
    nets_factory.get_network_fn(name, 6, is_training=True, batch_norm_decay=decay)(images)
    moving_mean = [v for v in slim.get_model_variables() if v.op.name.endswith('moving_mean')][0]
    netutil.initialize(sess)
    update = tf.group(*tf.compat.v1.get_collection(UPDATE_OPS))
    feed = {images: netutil.random_images(2, 64, 64)}
    first = _updated_value(sess, update, feed, moving_mean)
    second = _updated_value(sess, update, feed, moving_mean)
  assert np.any(first)
  np.testing.assert_allclose(second, (1 + decay) * first, rtol=1e-4, atol=1e-7)


def _update_ops_after(name, factory_is_training, **network_args):
  with tf.Graph().as_default():
    network = nets_factory.get_network_fn(name, 6, is_training=factory_is_training)
    network(_images(), **network_args)
    return len(tf.compat.v1.get_collection(UPDATE_OPS))


def test_is_training_comes_from_the_factory_unless_the_call_overrides_it():
  # Batch norm adds moving-statistics updates only when it can be training.
  assert _update_ops_after('resnet_v1_18', False) == 0
  assert _update_ops_after('resnet_v1_18', True) > 0
  assert _update_ops_after('resnet_v1_18', True, is_training=False) == 0
  assert _update_ops_after('resnet_v1_18', False, is_training=True) > 0


@pytest.mark.parametrize('name', FAMILIES)
def test_bool_tensor_switches_batch_norm_at_run_time(name):
  with netutil.graph_session() as sess:
    images = _images()
    is_training = tf.compat.v1.placeholder_with_default(False, [], name='is_training')
    logits, _ = nets_factory.get_network_fn(name, 6)(images, is_training=is_training)
    assert tf.compat.v1.get_collection(UPDATE_OPS)
    netutil.initialize(sess)
    batch = netutil.random_images(2, 64, 64)
    training = sess.run(logits, {images: batch, is_training: True})
    inference = sess.run(logits, {images: batch})
  assert training.shape == inference.shape == (2, 6)
  assert not np.allclose(training, inference)


@pytest.mark.parametrize('name', [pytest.param(name, marks=pytest.mark.slow) if name in DEEP
                                  else name for name in sorted(EXPECTED_NETWORKS)])
def test_every_network_declares_its_feature_blocks_and_zero_init_scales(name):
  declaration = nets_factory.declaration(name)
  with tf.Graph().as_default():
    _, end_points = nets_factory.get_network_fn(name, 6)(_images())
    gammas = {v.op.name for v in slim.get_model_variables() if v.op.name.endswith('/gamma')}
  sides = [end_points['%s/%s' % (name, block)].shape[1] for block in declaration.feature_blocks]
  assert len(sides) == 4 and sides == sorted(sides, reverse=True)  # Shallowest first.
  scales = {'%s/%s' % (name, scale) for scale in declaration.zero_init_scales}
  assert scales <= gammas
  # One per unit, but none in a v2 unit: its residual branch ends on a plain convolution.
  units = [key for key in end_points if re.search(r'/(unit_\d+/\w+_v[12]|res\d[a-z])$', key)]
  assert len(scales) == (0 if name.startswith('resnet_v2') else len(units))
  assert declaration.fully_convolutional == (name != 'resnet50_signs')


@pytest.mark.parametrize('name, unit, next_unit, stride', [
    ('resnet_v1_18', 'block1/unit_1/basic_v1', 'block1/unit_2/basic_v1', 2),
    ('resnet_v1_50', 'block1/unit_1/bottleneck_v1', 'block1/unit_2/bottleneck_v1', 1),
    ('resnet50_signs', 'res2a', 'res2b', 1)])
def test_zeroing_the_declared_scales_makes_units_identities(name, unit, next_unit, stride):
  """The next unit passes its input on (subsampled by its stride): its residual is 0."""
  with netutil.graph_session() as sess:
    images = _images()
    _, end_points = nets_factory.get_network_fn(name, 6)(images)
    variables = {v.op.name: v for v in slim.get_model_variables()}
    netutil.initialize(sess)
    sess.run([variables['%s/%s' % (name, scale)].assign(
        tf.zeros_like(variables['%s/%s' % (name, scale)]))
              for scale in nets_factory.declaration(name).zero_init_scales])
    before, after = sess.run([end_points['%s/%s' % (name, unit)],
                              end_points['%s/%s' % (name, next_unit)]],
                             {images: netutil.random_images(2, 64, 64)})
  assert np.any(before)
  np.testing.assert_array_equal(after, before[:, ::stride, ::stride])
