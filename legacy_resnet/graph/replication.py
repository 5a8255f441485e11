"""In-graph replication: the network built once per device (a "clone") on shared variables,
the clones' gradients summed into one update, as one device would train on the whole batch."""

import collections
import contextlib

import tensorflow as tf
import tf_slim as slim

from legacy_resnet.core.errors import SettingError

VARIABLES_DEVICE = '/device:CPU:0'

Clone = collections.namedtuple('Clone', ['scope', 'device'])


def clones(num_clones, clone_on_cpu, num_gpus):
  """The clones of a run, or a SettingError when there are not that many GPUs. One clone
  without ``clone_on_cpu`` keeps TensorFlow's placement and no scope: the unreplicated graph."""
  if num_clones == 1 and not clone_on_cpu:
    return [Clone('', '')]
  if not clone_on_cpu and num_clones > num_gpus:
    raise SettingError('{num_clones} %d: this machine has %d GPU(s); add {clone_on_cpu} to '
                       'replicate over logical CPU devices', num_clones, num_gpus)
  kind = 'CPU' if clone_on_cpu else 'GPU'
  return [Clone('clone_%d' % i, '/device:%s:%d' % (kind, i)) for i in range(num_clones)]


@contextlib.contextmanager
def clone_scope(clone, index):
  """Enters ``clone``'s name scope and device; clones after the first reuse the
  variables the first one created, which live on the CPU when there are several."""
  with contextlib.ExitStack() as stack:
    stack.enter_context(tf.compat.v1.variable_scope(tf.compat.v1.get_variable_scope(),
                                                    reuse=True if index else None))
    if clone.scope:
      stack.enter_context(tf.compat.v1.name_scope(clone.scope))
      stack.enter_context(tf.compat.v1.device(clone.device))
      stack.enter_context(slim.arg_scope([slim.model_variable, slim.variable], device=VARIABLES_DEVICE))
    yield


def split_batch(tensor, num_clones):
  """``tensor`` [batch, ...] cut into ``num_clones`` equal parts along the batch."""
  return [tensor] if num_clones == 1 else tf.split(tensor, num_clones, axis=0)


def update_ops(first_clone):
  """The batch-norm moving-statistics updates of the first clone only: each clone sees
  a different slice of the batch, and one update per step keeps the decay's meaning."""
  return tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS, first_clone.scope or None)


def summed_gradients(clone_gradients):
  """[(gradient, variable)] summed over clones; each clone's loss is already divided by
  the number of clones, so the sum is the gradient of the mean loss."""
  if len(clone_gradients) == 1:
    return clone_gradients[0]
  summed = []
  for pairs in zip(*clone_gradients):
    variable = pairs[0][1]
    gradients = [gradient for gradient, _ in pairs if gradient is not None]
    if not gradients:
      continue
    with tf.compat.v1.name_scope('sum_over_clones'), tf.compat.v1.device(VARIABLES_DEVICE):
      summed.append((tf.add_n(gradients), variable))
  return summed
