"""ResNet v1 (He et al., "Deep Residual Learning for Image Recognition", 2015).

Same graphs, variable names and numbers as tf-slim's ``nets/resnet_v1.py`` for the
bottleneck nets (50/101/152/200), so slim checkpoints restore unchanged, plus the
paper's shallow nets (18/34) built from a basic two-convolution unit.

Typical use::

  with slim.arg_scope(resnet_utils.resnet_arg_scope()):
    logits, end_points = resnet_v1.resnet_v1_50(images, num_classes=6, is_training=True)

Dense features (FCN mode) for segmentation or detection::

  with slim.arg_scope(resnet_utils.resnet_arg_scope()):
    features, _ = resnet_v1.resnet_v1_50(images, global_pool=False, output_stride=16)
"""

import tensorflow as tf
import tf_slim as slim

from nets import resnet_utils

resnet_arg_scope = resnet_utils.resnet_arg_scope


def _shortcut(inputs, depth, stride, activation_fn=None):
  """Identity (subsampled) when the depth is unchanged, else a 1x1 projection."""
  depth_in = slim.utils.last_dimension(inputs.get_shape(), min_rank=4)
  if depth == depth_in:
    return resnet_utils.subsample(inputs, stride, 'shortcut')
  return slim.conv2d(inputs, depth, [1, 1], stride=stride, activation_fn=activation_fn,
                     scope='shortcut')


def _residual_unit(inputs, depth, stride, residual_fn, use_bounded_activations):
  """relu(shortcut + residual_fn(inputs)); bounded: relu6 of the projection, the
  residual clipped to [-6, 6] and relu6 of the sum, so every tensor stays in a
  range that 8-bit quantization can represent."""
  shortcut = _shortcut(inputs, depth, stride,
                       activation_fn=tf.nn.relu6 if use_bounded_activations else None)
  residual = residual_fn(inputs)
  if use_bounded_activations:
    return tf.nn.relu6(shortcut + tf.clip_by_value(residual, -6.0, 6.0))
  return tf.nn.relu(shortcut + residual)


@slim.add_arg_scope
def bottleneck(inputs, depth, depth_bottleneck, stride, rate=1, unit_rate=1,
               use_bounded_activations=False, outputs_collections=None, scope=None):
  """Bottleneck unit (1x1 reduce, 3x3, 1x1 expand) with batch norm after each conv.

  Args:
    inputs: [batch, height, width, channels].
    depth: output channels.
    depth_bottleneck: channels of the two inner convolutions.
    stride: subsampling of this unit, applied by the 3x3 convolution.
    rate: atrous rate of the 3x3 convolution.
    unit_rate: multi-grid factor on ``rate``.
    use_bounded_activations: ReLU6 and a clipped residual (for quantization; use
      with ``resnet_arg_scope(activation_fn=tf.nn.relu6)``).
    outputs_collections: collection that receives the unit output.
    scope: variable scope (default 'bottleneck_v1').

  Returns:
    [batch, ceil(height / stride), ceil(width / stride), depth].
  """
  with tf.compat.v1.variable_scope(scope, 'bottleneck_v1', [inputs]) as unit_scope:

    def residual_fn(net):
      net = slim.conv2d(net, depth_bottleneck, [1, 1], stride=1, scope='conv1')
      net = resnet_utils.conv2d_same(net, depth_bottleneck, 3, stride,
                                     rate=rate * unit_rate, scope='conv2')
      return slim.conv2d(net, depth, [1, 1], stride=1, activation_fn=None, scope='conv3')

    output = _residual_unit(inputs, depth, stride, residual_fn, use_bounded_activations)
    return slim.utils.collect_named_outputs(outputs_collections, unit_scope.name, output)


@slim.add_arg_scope
def basic(inputs, depth, stride, rate=1, unit_rate=1, use_bounded_activations=False,
          outputs_collections=None, scope=None):
  """Basic unit of the shallow ResNets: two 3x3 convolutions with batch norm.

  The stride sits on the second convolution, like the 3x3 of ``bottleneck``, so that
  ``stack_blocks_dense`` can replace it by atrous convolution exactly.

  Args:
    inputs: [batch, height, width, channels].
    depth: output channels (of both convolutions).
    stride: subsampling of this unit.
    rate: atrous rate of both convolutions.
    unit_rate: multi-grid factor on ``rate``.
    use_bounded_activations: as for ``bottleneck``.
    outputs_collections: collection that receives the unit output.
    scope: variable scope (default 'basic_v1').

  Returns:
    [batch, ceil(height / stride), ceil(width / stride), depth].
  """
  with tf.compat.v1.variable_scope(scope, 'basic_v1', [inputs]) as unit_scope:

    def residual_fn(net):
      net = resnet_utils.conv2d_same(net, depth, 3, 1, rate=rate * unit_rate, scope='conv1')
      with slim.arg_scope([slim.conv2d], activation_fn=None):
        return resnet_utils.conv2d_same(net, depth, 3, stride, rate=rate * unit_rate,
                                        scope='conv2')

    output = _residual_unit(inputs, depth, stride, residual_fn, use_bounded_activations)
    return slim.utils.collect_named_outputs(outputs_collections, unit_scope.name, output)


# The batch-norm scale that closes each unit's residual branch (Declaration.zero_init_scales).
bottleneck.last_scale = 'bottleneck_v1/conv3/BatchNorm/gamma'
basic.last_scale = 'basic_v1/conv2/BatchNorm/gamma'


def resnet_v1(inputs, blocks, num_classes=None, is_training=True, global_pool=True,
              output_stride=None, include_root_block=True, spatial_squeeze=True,
              store_non_strided_activations=False, reuse=None, scope=None):
  """Builds a ResNet v1 from ``blocks``.

  For classification use global_pool=True; at 224x224 the last block is 7x7. For
  dense prediction use global_pool=False and, ideally, inputs of size 32k+1 (e.g.
  321x321): the features are then ((H - 1) / output_stride + 1) square with corners
  aligned to the image corners. output_stride=16 is a good density/cost trade-off.

  Args:
    inputs: [batch, height, width, channels].
    blocks: list of ``resnet_utils.Block``.
    num_classes: number of classes; None returns the features before the logits.
    is_training: batch norm uses batch statistics (True) or the moving ones (False).
    global_pool: average over height and width before the logits.
    output_stride: wanted input/output resolution ratio (a multiple of 4 when the
      root block is included), or None for the nominal stride (32 for 4 blocks).
    include_root_block: start with a 7x7/2 convolution and a 3x3/2 max pool.
    spatial_squeeze: return logits as [batch, num_classes] rather than
      [batch, 1, 1, num_classes] (only with global_pool and num_classes).
    store_non_strided_activations: block end points at the resolution before the
      block's last stride (see ``resnet_utils.stack_blocks_dense``).
    reuse: reuse the variables of ``scope``.
    scope: variable scope.

  Returns:
    net: logits [batch, num_classes] (or [batch, 1, 1, num_classes] without
      spatial_squeeze, or [batch, h, w, num_classes] without global_pool); with
      num_classes None, the last block's features, globally pooled or not.
    end_points: dict from end point names ('<scope>/block4', ...) to tensors;
      'predictions' holds the softmax when there are classes.

  Raises:
    ValueError: for an output_stride that the blocks cannot produce.
  """
  return resnet_utils.resnet(
      inputs, blocks, (bottleneck, basic), False, num_classes, is_training, global_pool,
      output_stride, include_root_block, spatial_squeeze, store_non_strided_activations,
      reuse, scope, default_scope='resnet_v1')


resnet_v1.default_image_size = 224


def resnet_v1_block(scope, base_depth, num_units, stride):
  """A block of ``num_units`` bottleneck units of output depth 4 * base_depth; the
  last unit has ``stride``, the others 1."""
  return resnet_utils.repeated_unit_block(
      scope, bottleneck, {'depth': base_depth * 4, 'depth_bottleneck': base_depth}, num_units,
      stride)


def resnet_v1_basic_block(scope, depth, num_units, stride):
  """A block of ``num_units`` basic units of depth ``depth``; the last unit has
  ``stride``, the others 1."""
  return resnet_utils.repeated_unit_block(scope, basic, {'depth': depth}, num_units, stride)


_BLOCK_FNS = {'basic': resnet_v1_basic_block, 'bottleneck': resnet_v1_block}

resnet_v1_18 = resnet_utils.named_resnet(resnet_v1, 18, _BLOCK_FNS)
resnet_v1_34 = resnet_utils.named_resnet(resnet_v1, 34, _BLOCK_FNS)
resnet_v1_50 = resnet_utils.named_resnet(resnet_v1, 50, _BLOCK_FNS)
resnet_v1_101 = resnet_utils.named_resnet(resnet_v1, 101, _BLOCK_FNS)
resnet_v1_152 = resnet_utils.named_resnet(resnet_v1, 152, _BLOCK_FNS)
resnet_v1_200 = resnet_utils.named_resnet(resnet_v1, 200, _BLOCK_FNS)
