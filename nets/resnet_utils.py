"""Building blocks shared by the ResNet definitions.

The layout follows tf-slim's ``nets/resnet_utils.py`` so that graphs, variable names
and numbers are the same: a network is a list of ``Block``s, each a list of units;
a block subsamples in its last unit, and ``stack_blocks_dense`` can trade that
subsampling for atrous (dilated) convolution to keep feature maps dense.
"""

import collections

import tensorflow as tf
import tf_slim as slim

import legacy_resnet  # noqa: F401  (tf-slim's layers need the compat fix first)


class Block(collections.namedtuple('Block', ['scope', 'unit_fn', 'args'])):
  """One ResNet block: its variable scope, its unit function and one kwargs dict per
  unit (for example ``{'depth': 256, 'depth_bottleneck': 64, 'stride': 1}``)."""


def subsample(inputs, factor, scope=None):
  """Keeps every ``factor``-th row and column.

  Args:
    inputs: [batch, height, width, channels].
    factor: subsampling factor; 1 returns ``inputs`` untouched.
    scope: optional name of the pooling op.

  Returns:
    [batch, ceil(height / factor), ceil(width / factor), channels].
  """
  if factor == 1:
    return inputs
  return slim.max_pool2d(inputs, [1, 1], stride=factor, scope=scope)


def conv2d_same(inputs, num_outputs, kernel_size, stride, rate=1, scope=None):
  """A convolution whose output pixel i looks at input pixels centred on i * stride.

  ``slim.conv2d(..., stride=2, padding='SAME')`` pads unevenly on even inputs, so its
  output is not the stride-1 output subsampled. Padding explicitly by the effective
  kernel size, then convolving with 'VALID', makes the two agree for any input size.

  Args:
    inputs: [batch, height, width, channels].
    num_outputs: output channels.
    kernel_size: side of the square kernel.
    stride: output stride.
    rate: atrous (dilation) rate.
    scope: variable scope of the convolution.

  Returns:
    [batch, ceil(height / stride), ceil(width / stride), num_outputs].
  """
  if stride == 1:
    return slim.conv2d(inputs, num_outputs, kernel_size, stride=1, rate=rate,
                       padding='SAME', scope=scope)
  effective_kernel = kernel_size + (kernel_size - 1) * (rate - 1)
  pad_before = (effective_kernel - 1) // 2
  pad_after = effective_kernel - 1 - pad_before
  padded = tf.pad(inputs, [[0, 0], [pad_before, pad_after], [pad_before, pad_after], [0, 0]])
  return slim.conv2d(padded, num_outputs, kernel_size, stride=stride, rate=rate,
                     padding='VALID', scope=scope)


@slim.add_arg_scope
def stack_blocks_dense(net, blocks, output_stride=None, outputs_collections=None):
  """Runs ``net`` through ``blocks``, holding the resolution at ``output_stride``.

  Units are created under ``<block.scope>/unit_<i>``. Once the product of the unit
  strides so far reaches ``output_stride``, later units run with stride 1 and an
  atrous rate that grows by the stride they skipped, so their receptive fields stay
  those of the subsampled network.

  Args:
    net: [batch, height, width, channels].
    blocks: list of ``Block``.
    output_stride: wanted ratio of this function's input to output resolution, or
      None for the blocks' nominal stride.
    outputs_collections: collection that receives each block's output.

  Returns:
    [batch, height / output_stride, width / output_stride, channels_out].

  Raises:
    ValueError: when no prefix of the unit strides multiplies to ``output_stride``.
  """
  current_stride = 1
  rate = 1
  for block in blocks:
    with tf.compat.v1.variable_scope(block.scope, 'block', [net]) as block_scope:
      for index, unit in enumerate(block.args):
        if output_stride is not None and current_stride > output_stride:
          raise ValueError('The target output_stride %d cannot be reached.' % output_stride)
        with tf.compat.v1.variable_scope('unit_%d' % (index + 1), values=[net]):
          if output_stride is not None and current_stride == output_stride:
            net = block.unit_fn(net, rate=rate, **dict(unit, stride=1))
            rate *= unit.get('stride', 1)
          else:
            net = block.unit_fn(net, rate=1, **unit)
            current_stride *= unit.get('stride', 1)
      net = slim.utils.collect_named_outputs(outputs_collections, block_scope.name, net)
  if output_stride is not None and current_stride != output_stride:
    raise ValueError('The target output_stride %d cannot be reached.' % output_stride)
  return net


def resnet_arg_scope(weight_decay=0.0001,
                     batch_norm_decay=0.997,
                     batch_norm_epsilon=1e-5,
                     batch_norm_scale=True,
                     activation_fn=tf.nn.relu,
                     use_batch_norm=True,
                     batch_norm_updates_collections=tf.compat.v1.GraphKeys.UPDATE_OPS):
  """Shared layer defaults for the ResNets: He-initialized, L2-regularized
  convolutions followed by batch norm and ``activation_fn``.

  The batch-norm defaults match the original ResNet release (and tf-slim). When
  training from scratch on a few thousand images, a lower ``batch_norm_decay``
  (0.9) lets the moving statistics catch up with the weights.

  Batch-norm moving averages are updated by ops placed in
  ``batch_norm_updates_collections`` (``UPDATE_OPS``): the train op must depend on
  them, e.g. ``tf.control_dependencies(tf.compat.v1.get_collection(UPDATE_OPS))``.

  Returns:
    An ``arg_scope`` to enter with ``slim.arg_scope(resnet_arg_scope())``.
  """
  batch_norm_params = {
      'decay': batch_norm_decay,
      'epsilon': batch_norm_epsilon,
      'scale': batch_norm_scale,
      'updates_collections': batch_norm_updates_collections,
  }
  with slim.arg_scope(
      [slim.conv2d],
      weights_regularizer=slim.l2_regularizer(weight_decay),
      weights_initializer=slim.variance_scaling_initializer(),
      activation_fn=activation_fn,
      normalizer_fn=slim.batch_norm if use_batch_norm else None,
      normalizer_params=batch_norm_params):
    with slim.arg_scope([slim.batch_norm], **batch_norm_params):
      with slim.arg_scope([slim.max_pool2d], padding='SAME') as scope:
        return scope
