"""nets.resnet_v1/resnet_v2 against tf_slim.nets.resnet_v1/resnet_v2: same variables
and, given the same weights, the same logits and end points."""

import itertools

import netutil
import numpy as np
import pytest
import tensorflow as tf
import tf_slim as slim
from tf_slim.nets import resnet_utils as slim_resnet_utils
from tf_slim.nets import resnet_v1 as slim_resnet_v1
from tf_slim.nets import resnet_v2 as slim_resnet_v2

from nets import resnet_utils
from nets import resnet_v1
from nets import resnet_v2

pytestmark = netutil.QUIET

NUM_CLASSES = 7
OURS = 'ours/'
TOLERANCE = 1e-4

# Graph building dominates the cost (6-20 s per ResNet-50 pair, 15-25 s per
# ResNet-101 pair on 2 busy cores). By default the settings below run, given as
# (is_training, global_pool, output_stride) per net; the rest, 152 and 200 need -m slow.
# v1's ResNet-50 runs every setting except the atrous ones with global pooling.
DEFAULT_SETTINGS = {
    # ResNet-101 differs from 50 only in block3's unit count: one setting per family.
    'resnet_v1_101': {(False, True, None)},
    # v2: train and inference, output_stride None, 8 and 16 over the two nets.
    'resnet_v2_50': {(True, True, None), (False, False, 8), (True, False, 16)},
    'resnet_v2_101': {(False, True, None)},
}
FAMILIES = {'resnet_v1': (slim_resnet_v1, resnet_v1), 'resnet_v2': (slim_resnet_v2, resnet_v2)}


def _runs_by_default(name, is_training, global_pool, output_stride):
  if name == 'resnet_v1_50':
    return not (global_pool and output_stride)
  return (is_training, global_pool, output_stride) in DEFAULT_SETTINGS.get(name, ())


def _settings():
  for setting in itertools.product(sorted(FAMILIES), (50, 101, 152, 200), (True, False),
                                   (True, False), (None, 8, 16)):
    family, depth, is_training, global_pool, output_stride = setting
    name = '%s_%d' % (family, depth)
    setting = (name, is_training, global_pool, output_stride)
    test_id = '%s-%s-%s-stride_%s' % (
        name, 'train' if is_training else 'infer', 'pool' if global_pool else 'fcn',
        output_stride)
    slow = not _runs_by_default(*setting)
    yield pytest.param(setting, id=test_id, marks=[pytest.mark.slow] if slow else [])


def _random_value(name, shape, rng):
  """He-scaled kernels, positive variances and scales, small offsets."""
  kind = name.rsplit('/', 1)[-1]
  if kind == 'weights':
    return rng.standard_normal(shape) * np.sqrt(2.0 / np.prod(shape[:-1]))
  if kind in ('biases', 'beta', 'moving_mean'):
    return rng.standard_normal(shape) * 0.1
  if kind in ('gamma', 'moving_variance'):
    return rng.uniform(0.5, 1.5, shape)
  raise AssertionError('no random value for variable %s' % name)


def _load_same_random_weights(sess, reference, ours):
  """Sets every variable of both nets (moving statistics included) to random values,
  equal for equal names, through the variables' own initializers."""
  rng = np.random.default_rng(0)
  feed = {}
  for name in sorted(set(reference) | set(ours)):
    variable = reference.get(name, ours.get(name))
    value = _random_value(name, variable.get_shape().as_list(), rng).astype(np.float32)
    for variables in (reference, ours):
      if name in variables:
        feed[variables[name].initializer.inputs[1]] = value
  sess.run([v.initializer for v in list(reference.values()) + list(ours.values())], feed)


def _variables_under(prefix):
  return {v.op.name[len(prefix):]: v for v in tf.compat.v1.global_variables()
          if v.op.name.startswith(prefix)}


def _comparisons(reference_points, our_points):
  """Per tf-slim end point: both runtime shapes, max|ref - ours| and max|ref|."""
  comparisons = {}
  for name, expected in reference_points.items():
    ours = our_points.get(OURS + name, our_points.get(name))
    if ours is None:
      continue
    difference = expected - tf.reshape(ours, tf.shape(expected))
    comparisons[name] = (tf.shape(expected), tf.shape(ours),
                         tf.reduce_max(tf.abs(difference)), tf.reduce_max(tf.abs(expected)))
  return comparisons


class _NetPair:
  """tf-slim's net and ours, in one graph and session, on one image placeholder."""

  def __init__(self, name, is_training, global_pool, output_stride):
    self.graph = tf.Graph()
    with self.graph.as_default():
      self.images = netutil.placeholder([None, None, None, 3])
      kwargs = dict(num_classes=NUM_CLASSES, is_training=is_training,
                    global_pool=global_pool, output_stride=output_stride)
      slim_family, our_family = FAMILIES[name.rsplit('_', 1)[0]]
      with slim.arg_scope(slim_resnet_utils.resnet_arg_scope()):
        reference_logits, self.reference_points = getattr(slim_family, name)(
            self.images, **kwargs)
      with slim.arg_scope(resnet_utils.resnet_arg_scope()):
        our_logits, self.our_points = getattr(our_family, name)(
            self.images, scope=OURS + name, **kwargs)
      self.reference_variables = _variables_under(name + '/')
      self.our_variables = _variables_under(OURS + name + '/')
      self.comparisons = _comparisons(dict(self.reference_points, output=reference_logits),
                                      dict(self.our_points, output=our_logits))
      self.sess = tf.compat.v1.Session(graph=self.graph)
      _load_same_random_weights(self.sess, self.reference_variables, self.our_variables)


@pytest.fixture(scope='module', params=list(_settings()))
def nets(request):
  pair = _NetPair(*request.param)
  yield pair
  pair.sess.close()


def _shapes(variables):
  return {name: variable.get_shape().as_list() for name, variable in variables.items()}


def test_variable_names_and_shapes_match_tf_slim(nets):
  assert _shapes(nets.our_variables) == _shapes(nets.reference_variables)


def test_every_tf_slim_end_point_is_among_ours(nets):
  assert set(nets.reference_points) - set(nets.comparisons) == set()


def _shape_matches(name, expected, ours):
  """Equal, or for the squeezed logits and predictions [N, 1, 1, C] -> [N, C]."""
  expected, ours = list(expected), list(ours)
  squeezed = [expected[0], expected[-1]] if expected[1:-1] == [1, 1] else None
  return ours == expected or (name in ('output', 'predictions') and ours == squeezed)


@pytest.mark.parametrize('size', [64, 97, pytest.param(321, marks=pytest.mark.slow)])
def test_logits_and_end_points_match_tf_slim(nets, size):
  images = netutil.random_images(2, size, size, seed=size)
  results = nets.sess.run(nets.comparisons, {nets.images: images})
  shape_mismatches, value_mismatches = {}, {}
  for name, (expected_shape, our_shape, max_difference, scale) in results.items():
    if not _shape_matches(name, expected_shape, our_shape):
      shape_mismatches[name] = (list(expected_shape), list(our_shape))
    # A zero scale (all activations dead) would hide any difference.
    if not (scale > 0 and max_difference <= TOLERANCE * scale):
      value_mismatches[name] = (max_difference, scale)
  assert shape_mismatches == {}
  assert value_mismatches == {}
  assert 'output' in results and 'predictions' in results
