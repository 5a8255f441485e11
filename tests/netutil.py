"""Shared helpers for the network tests: inputs, tiny ResNets, graph sessions."""

import contextlib

import numpy as np
import pytest
import tensorflow as tf
import tf_slim as slim
from tf_slim.nets import resnet_utils as slim_resnet_utils

from nets import resnet_utils
from nets import resnet_v1
from nets import resnet_v2

# Depth (bottleneck: base depth, basic: depth), units and stride of each tiny block.
TINY_BLOCKS = ((1, 3, 2), (2, 3, 2), (4, 3, 2), (8, 2, 1))
TINY_NOMINAL_STRIDE = 8  # Product of the block strides above.

# tf-slim calls the deprecated ``layer.apply`` for every batch norm; pytest would
# report each call. Test modules set ``pytestmark = netutil.QUIET``.
QUIET = pytest.mark.filterwarnings('ignore:`layer.apply` is deprecated:UserWarning')


def grid_image(batch, height, width, channels=3):
  """Images whose pixel (i, j) is i + j in every channel: varied but reproducible."""
  grid = np.arange(height).reshape(height, 1) + np.arange(width).reshape(1, width)
  return np.tile(grid.reshape(1, height, width, 1), [batch, 1, 1, channels]).astype(np.float32)


def random_images(batch, height, width, seed=0, channels=3):
  return np.random.default_rng(seed).standard_normal(
      (batch, height, width, channels)).astype(np.float32)


@contextlib.contextmanager
def graph_session(seed=0):
  """A fresh graph (as default, with a fixed op seed) and a session on it."""
  with tf.Graph().as_default() as graph:
    tf.compat.v1.set_random_seed(seed)
    with tf.compat.v1.Session(graph=graph) as sess:
      yield sess


def initialize(sess):
  sess.run(tf.compat.v1.global_variables_initializer())


def placeholder(shape):
  return tf.compat.v1.placeholder(tf.float32, shape)


# Parametrizes a test over both ResNet families (the module is the argument).
OVER_FAMILIES = pytest.mark.parametrize('family', [resnet_v1, resnet_v2],
                                        ids=['resnet_v1', 'resnet_v2'])


def tiny_blocks(kind='bottleneck', spec=TINY_BLOCKS, family=resnet_v1):
  """Thin blocks of bottleneck (output depth 4 * base) or basic units of ``family``
  (the module resnet_v1 or resnet_v2)."""
  name = family.__name__.rsplit('.', 1)[-1]
  make = {'bottleneck': getattr(family, name + '_block'),
          'basic': getattr(family, name + '_basic_block')}[kind]
  return [make('block%d' % (index + 1), depth, units, stride)
          for index, (depth, units, stride) in enumerate(spec)]


def tiny_resnet(inputs, num_classes=None, kind='bottleneck', scope='resnet', family=resnet_v1,
                spec=TINY_BLOCKS, **kwargs):
  """A full ResNet of ``family`` (root block included unless told otherwise) on tiny
  blocks."""
  builder = getattr(family, family.__name__.rsplit('.', 1)[-1])
  return builder(inputs, tiny_blocks(kind, spec, family), num_classes, scope=scope, **kwargs)


def inference_arg_scope():
  """resnet_arg_scope() with batch norm on its moving statistics."""
  with slim.arg_scope(resnet_utils.resnet_arg_scope()):
    with slim.arg_scope([slim.batch_norm], is_training=False) as scope:
      return scope


def variables_named(pattern):
  """Global variables whose name contains ``pattern``, in creation order."""
  found = [v for v in tf.compat.v1.global_variables() if pattern in v.op.name]
  assert found, 'no variable matches %r' % pattern
  return found


def relative_error(actual, expected):
  """max|actual - expected| / max|expected|."""
  actual, expected = np.asarray(actual), np.asarray(expected)
  assert actual.shape == expected.shape, (actual.shape, expected.shape)
  return float(np.max(np.abs(actual - expected)) / np.max(np.abs(expected)))


def assert_relatively_close(actual, expected, tolerance=1e-4):
  # An all-zero reference (every ReLU dead) would make any comparison pass.
  assert np.any(expected), 'the reference output is all zero'
  assert relative_error(actual, expected) <= tolerance


def write_slim_checkpoint(prefix, network, num_classes):
  """Saves the model variables of tf-slim's own ``network`` (e.g.
  tf_slim.nets.resnet_v2.resnet_v2_50) with ``num_classes`` classes, randomly
  initialized, as a model-zoo style checkpoint at ``prefix``; returns ``prefix``."""
  with tf.Graph().as_default():
    tf.compat.v1.set_random_seed(7)
    images = tf.compat.v1.placeholder(tf.float32, [None, 224, 224, 3])
    with slim.arg_scope(slim_resnet_utils.resnet_arg_scope()):
      network(images, num_classes, is_training=False)
    saver = tf.compat.v1.train.Saver(slim.get_model_variables())
    with tf.compat.v1.Session() as session:
      session.run(tf.compat.v1.global_variables_initializer())
      saver.save(session, prefix, write_meta_graph=False)
  return prefix
