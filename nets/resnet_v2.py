"""ResNet v2, the pre-activation ResNet (He et al., "Identity Mappings in Deep Residual
Networks", 2016).

Each unit normalizes and activates its input first ('preact' batch norm and ReLU) and
ends on a plain sum, so the identity path carries no nonlinearity; the network ends
with a 'postnorm' batch norm and ReLU. Same graphs, variable names and numbers as
tf-slim's ``nets/resnet_v2.py`` for the bottleneck nets (50/101/152/200), so slim's
model zoo checkpoints restore unchanged (they have 1001 classes, background first,
and expect Inception preprocessing: pixels in [-1, 1]). resnet_v2_18/34 use a
pre-activation basic unit.

Typical use::

  with slim.arg_scope(resnet_v2.resnet_arg_scope()):
    logits, end_points = resnet_v2.resnet_v2_50(images, num_classes=6, is_training=True)
"""

import tensorflow as tf
import tf_slim as slim

from nets import resnet_utils

resnet_arg_scope = resnet_utils.resnet_arg_scope


def _preact_and_shortcut(inputs, depth, stride):
  """(preact, shortcut): batch norm and ReLU of ``inputs``, and the identity
  (subsampled) when the depth is unchanged, else a plain 1x1 projection of preact."""
  depth_in = slim.utils.last_dimension(inputs.get_shape(), min_rank=4)
  preact = slim.batch_norm(inputs, activation_fn=tf.nn.relu, scope='preact')
  if depth == depth_in:
    return preact, resnet_utils.subsample(inputs, stride, 'shortcut')
  return preact, slim.conv2d(preact, depth, [1, 1], stride=stride, normalizer_fn=None,
                             activation_fn=None, scope='shortcut')


@slim.add_arg_scope
def bottleneck(inputs, depth, depth_bottleneck, stride, rate=1, unit_rate=1,
               outputs_collections=None, scope=None):
  """Pre-activation bottleneck unit: batch norm and ReLU, then 1x1 reduce, 3x3 and
  a plain 1x1 expand, added to the shortcut.

  Args:
    inputs: [batch, height, width, channels].
    depth: output channels.
    depth_bottleneck: channels of the two inner convolutions.
    stride: subsampling of this unit, applied by the 3x3 convolution.
    rate: atrous rate of the 3x3 convolution.
    unit_rate: multi-grid factor on ``rate``.
    outputs_collections: collection that receives the unit output.
    scope: variable scope (default 'bottleneck_v2').

  Returns:
    [batch, ceil(height / stride), ceil(width / stride), depth].
  """
  with tf.compat.v1.variable_scope(scope, 'bottleneck_v2', [inputs]) as unit_scope:
    preact, shortcut = _preact_and_shortcut(inputs, depth, stride)
    residual = slim.conv2d(preact, depth_bottleneck, [1, 1], stride=1, scope='conv1')
    residual = resnet_utils.conv2d_same(residual, depth_bottleneck, 3, stride,
                                        rate=rate * unit_rate, scope='conv2')
    residual = slim.conv2d(residual, depth, [1, 1], stride=1, normalizer_fn=None,
                           activation_fn=None, scope='conv3')
    return slim.utils.collect_named_outputs(outputs_collections, unit_scope.name,
                                            shortcut + residual)


@slim.add_arg_scope
def basic(inputs, depth, stride, rate=1, unit_rate=1, outputs_collections=None, scope=None):
  """Pre-activation basic unit: batch norm and ReLU, a 3x3 convolution with batch
  norm and ReLU, then a plain 3x3 convolution carrying the stride, added to the
  shortcut.

  Args:
    inputs: [batch, height, width, channels].
    depth: output channels (of both convolutions).
    stride: subsampling of this unit.
    rate: atrous rate of both convolutions.
    unit_rate: multi-grid factor on ``rate``.
    outputs_collections: collection that receives the unit output.
    scope: variable scope (default 'basic_v2').

  Returns:
    [batch, ceil(height / stride), ceil(width / stride), depth].
  """
  with tf.compat.v1.variable_scope(scope, 'basic_v2', [inputs]) as unit_scope:
    preact, shortcut = _preact_and_shortcut(inputs, depth, stride)
    residual = resnet_utils.conv2d_same(preact, depth, 3, 1, rate=rate * unit_rate,
                                        scope='conv1')
    with slim.arg_scope([slim.conv2d], normalizer_fn=None, activation_fn=None):
      residual = resnet_utils.conv2d_same(residual, depth, 3, stride, rate=rate * unit_rate,
                                          scope='conv2')
    return slim.utils.collect_named_outputs(outputs_collections, unit_scope.name,
                                            shortcut + residual)


# A pre-activation residual branch ends on a plain convolution: no scale to zero.
bottleneck.last_scale = basic.last_scale = None


def resnet_v2(inputs, blocks, num_classes=None, is_training=True, global_pool=True,
              output_stride=None, include_root_block=True, spatial_squeeze=True,
              store_non_strided_activations=False, reuse=None, scope=None):
  """Builds a ResNet v2 from ``blocks``.

  The arguments, return values and errors are those of ``resnet_v1.resnet_v1``. The
  root convolution has no batch norm or activation (the first unit's 'preact' does
  that), and the last block's output goes through the 'postnorm' batch norm and
  ReLU before pooling. Without ``include_root_block``, ``inputs`` should be the
  output of a convolution without activation.

  tf-slim's resnet_v2 has no ``spatial_squeeze`` and returns logits as
  [batch, 1, 1, num_classes]; pass spatial_squeeze=False for that shape.
  """
  return resnet_utils.resnet(
      inputs, blocks, (bottleneck, basic), True, num_classes, is_training, global_pool,
      output_stride, include_root_block, spatial_squeeze, store_non_strided_activations,
      reuse, scope, default_scope='resnet_v2')


resnet_v2.default_image_size = 224


def resnet_v2_block(scope, base_depth, num_units, stride):
  """A block of ``num_units`` pre-activation bottleneck units of output depth
  4 * base_depth; the last unit has ``stride``, the others 1."""
  return resnet_utils.repeated_unit_block(
      scope, bottleneck, {'depth': base_depth * 4, 'depth_bottleneck': base_depth}, num_units,
      stride)


def resnet_v2_basic_block(scope, depth, num_units, stride):
  """A block of ``num_units`` pre-activation basic units of depth ``depth``; the
  last unit has ``stride``, the others 1."""
  return resnet_utils.repeated_unit_block(scope, basic, {'depth': depth}, num_units, stride)


_BLOCK_FNS = {'basic': resnet_v2_basic_block, 'bottleneck': resnet_v2_block}

resnet_v2_18 = resnet_utils.named_resnet(resnet_v2, 18, _BLOCK_FNS)
resnet_v2_34 = resnet_utils.named_resnet(resnet_v2, 34, _BLOCK_FNS)
resnet_v2_50 = resnet_utils.named_resnet(resnet_v2, 50, _BLOCK_FNS)
resnet_v2_101 = resnet_utils.named_resnet(resnet_v2, 101, _BLOCK_FNS)
resnet_v2_152 = resnet_utils.named_resnet(resnet_v2, 152, _BLOCK_FNS)
resnet_v2_200 = resnet_utils.named_resnet(resnet_v2, 200, _BLOCK_FNS)
