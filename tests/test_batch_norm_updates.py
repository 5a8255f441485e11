"""Batch norm under resnet_arg_scope(): UPDATE_OPS, moving statistics at inference,
and a Saver round trip."""

import types

import netutil
import numpy as np
import pytest
import tensorflow as tf
import tf_slim as slim

from nets import resnet_utils
from nets import resnet_v1

pytestmark = netutil.QUIET

UPDATE_OPS = tf.compat.v1.GraphKeys.UPDATE_OPS
SPEC = ((2, 2, 2), (4, 1, 1))  # Two small blocks; see netutil.tiny_blocks.
NUM_CLASSES = 3
LABELS = [0, 1, 2, 0]
EPSILON = 1e-5  # resnet_arg_scope's batch_norm_epsilon.
FIRST_CONV = 'resnet/block1/unit_1/bottleneck_v1/conv1'


def _small_net(images, kind, updates_collections=UPDATE_OPS, **kwargs):
  with slim.arg_scope(resnet_utils.resnet_arg_scope(
      batch_norm_updates_collections=updates_collections)):
    return resnet_v1.resnet_v1(images, netutil.tiny_blocks(kind, spec=SPEC), NUM_CLASSES,
                               include_root_block=False, scope='resnet', **kwargs)


def _build(kind='bottleneck', with_updates=True, learning_rate=0.1,
           updates_collections=UPDATE_OPS):
  """In the current graph: a training net with its train op, and an inference net
  (is_training=False) that reuses its variables, both on the same 4 images."""
  images = tf.constant(netutil.random_images(4, 8, 8, seed=1))
  train_logits, train_points = _small_net(images, kind, updates_collections,
                                          is_training=True)
  infer_logits, infer_points = _small_net(images, kind, is_training=False, reuse=True)
  loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(LABELS, train_logits)
  updates = tf.compat.v1.get_collection(UPDATE_OPS) if with_updates else []
  with tf.control_dependencies(updates):
    train_op = tf.compat.v1.train.GradientDescentOptimizer(learning_rate).minimize(loss)
  return types.SimpleNamespace(
      images=images, train_op=train_op, train_logits=train_logits, train_points=train_points,
      infer_logits=infer_logits, infer_points=infer_points)


def _moving_statistics():
  return netutil.variables_named('/moving_')


def _values(sess, variables):
  return dict(zip([v.op.name for v in variables], sess.run(variables)))


def _changed(before, after):
  return {name for name in before if not np.array_equal(before[name], after[name])}


@pytest.mark.parametrize('kind', ['bottleneck', 'basic'])
def test_update_ops_hold_one_mean_and_one_variance_update_per_batch_norm(kind):
  with tf.Graph().as_default():
    _build(kind)
    moving = _moving_statistics()
    assert len(tf.compat.v1.get_collection(UPDATE_OPS)) == len(moving)
    assert len(netutil.variables_named('/moving_mean')) * 2 == len(moving)


@pytest.mark.parametrize('kind', ['bottleneck', 'basic'])
def test_train_op_depending_on_update_ops_moves_every_moving_statistic(kind):
  with netutil.graph_session() as sess:
    net = _build(kind)
    netutil.initialize(sess)
    before = _values(sess, _moving_statistics())
    sess.run(net.train_op)
    after = _values(sess, _moving_statistics())
  assert _changed(before, after) == set(before)


def test_train_op_without_update_ops_leaves_moving_statistics_alone():
  with netutil.graph_session() as sess:
    net = _build(with_updates=False)
    netutil.initialize(sess)
    moving_before = _values(sess, _moving_statistics())
    weights_before = _values(sess, tf.compat.v1.trainable_variables())
    sess.run(net.train_op)
    assert _changed(moving_before, _values(sess, _moving_statistics())) == set()
    assert _changed(weights_before, _values(sess, tf.compat.v1.trainable_variables()))


def test_in_place_updates_move_moving_statistics_without_update_ops():
  with netutil.graph_session() as sess:
    net = _build(with_updates=False, updates_collections=None)
    assert tf.compat.v1.get_collection(UPDATE_OPS) == []
    netutil.initialize(sess)
    before = _values(sess, _moving_statistics())
    sess.run(net.train_op)
    assert _changed(before, _values(sess, _moving_statistics())) == set(before)


def _randomize_first_batch_norm(sess):
  rng = np.random.default_rng(2)
  random = {'moving_mean': lambda n: rng.standard_normal(n),
            'moving_variance': lambda n: rng.uniform(0.5, 2.0, n),
            'gamma': lambda n: rng.uniform(0.5, 1.5, n),
            'beta': lambda n: rng.standard_normal(n) * 0.1}
  for name, draw in random.items():
    variable, = netutil.variables_named('%s/BatchNorm/%s' % (FIRST_CONV, name))
    variable.load(draw(variable.get_shape().as_list()).astype(np.float32), sess)


def test_inference_batch_norm_is_computed_from_moving_statistics():
  with netutil.graph_session() as sess:
    net = _build()
    netutil.initialize(sess)
    _randomize_first_batch_norm(sess)
    images, params, inferred, trained = sess.run([
        net.images,
        {v.op.name.rsplit('/', 1)[-1]: v for v in netutil.variables_named(FIRST_CONV + '/')},
        net.infer_points[FIRST_CONV], net.train_points[FIRST_CONV]])
  # The first conv is 1x1 on the images, so it is a matrix product per pixel.
  normalized = (images @ params['weights'][0, 0] - params['moving_mean']) / np.sqrt(
      params['moving_variance'] + EPSILON)
  expected = np.maximum(params['gamma'] * normalized + params['beta'], 0.0)
  np.testing.assert_allclose(inferred, expected, rtol=1e-5, atol=1e-5)
  assert not np.allclose(trained, expected, rtol=1e-3, atol=1e-3)


def test_only_inference_output_follows_the_moving_statistics():
  with netutil.graph_session() as sess:
    # Learning rate 0: the train op changes the moving statistics and nothing else.
    net = _build(learning_rate=0.0)
    netutil.initialize(sess)
    before = sess.run([net.infer_logits, net.train_logits])
    sess.run(net.train_op)
    infer_after, train_after = sess.run([net.infer_logits, net.train_logits])
  assert not np.allclose(infer_after, before[0], rtol=1e-6, atol=0)
  np.testing.assert_array_equal(train_after, before[1])


def test_saver_round_trip_reproduces_inference_output_exactly(tmp_path):
  path = str(tmp_path / 'model.ckpt')
  with netutil.graph_session() as sess:
    net = _build()
    netutil.initialize(sess)
    for _ in range(3):
      sess.run(net.train_op)
    trained = sess.run(net.infer_logits)
    tf.compat.v1.train.Saver().save(sess, path)
  with netutil.graph_session(seed=1) as sess:
    net = _build()
    netutil.initialize(sess)
    fresh = sess.run(net.infer_logits)
    tf.compat.v1.train.Saver().restore(sess, path)
    restored = sess.run(net.infer_logits)
  assert not np.array_equal(fresh, trained)
  np.testing.assert_array_equal(restored, trained)
