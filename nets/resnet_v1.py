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


def _shortcut(inputs, depth, stride):
  """Identity (subsampled) when the depth is unchanged, else a 1x1 projection."""
  depth_in = slim.utils.last_dimension(inputs.get_shape(), min_rank=4)
  if depth == depth_in:
    return resnet_utils.subsample(inputs, stride, 'shortcut')
  return slim.conv2d(inputs, depth, [1, 1], stride=stride, activation_fn=None,
                     scope='shortcut')


@slim.add_arg_scope
def bottleneck(inputs, depth, depth_bottleneck, stride, rate=1,
               outputs_collections=None, scope=None):
  """Bottleneck unit (1x1 reduce, 3x3, 1x1 expand) with batch norm after each conv.

  Args:
    inputs: [batch, height, width, channels].
    depth: output channels.
    depth_bottleneck: channels of the two inner convolutions.
    stride: subsampling of this unit, applied by the 3x3 convolution.
    rate: atrous rate of the 3x3 convolution.
    outputs_collections: collection that receives the unit output.
    scope: variable scope (default 'bottleneck_v1').

  Returns:
    [batch, ceil(height / stride), ceil(width / stride), depth].
  """
  with tf.compat.v1.variable_scope(scope, 'bottleneck_v1', [inputs]) as unit_scope:
    shortcut = _shortcut(inputs, depth, stride)
    residual = slim.conv2d(inputs, depth_bottleneck, [1, 1], stride=1, scope='conv1')
    residual = resnet_utils.conv2d_same(residual, depth_bottleneck, 3, stride,
                                        rate=rate, scope='conv2')
    residual = slim.conv2d(residual, depth, [1, 1], stride=1, activation_fn=None,
                           scope='conv3')
    output = tf.nn.relu(shortcut + residual)
    return slim.utils.collect_named_outputs(outputs_collections, unit_scope.name, output)


@slim.add_arg_scope
def basic(inputs, depth, stride, rate=1, outputs_collections=None, scope=None):
  """Basic unit of the shallow ResNets: two 3x3 convolutions with batch norm.

  The stride sits on the second convolution, like the 3x3 of ``bottleneck``, so that
  ``stack_blocks_dense`` can replace it by atrous convolution exactly.

  Args:
    inputs: [batch, height, width, channels].
    depth: output channels (of both convolutions).
    stride: subsampling of this unit.
    rate: atrous rate of both convolutions.
    outputs_collections: collection that receives the unit output.
    scope: variable scope (default 'basic_v1').

  Returns:
    [batch, ceil(height / stride), ceil(width / stride), depth].
  """
  with tf.compat.v1.variable_scope(scope, 'basic_v1', [inputs]) as unit_scope:
    shortcut = _shortcut(inputs, depth, stride)
    residual = resnet_utils.conv2d_same(inputs, depth, 3, 1, rate=rate, scope='conv1')
    with slim.arg_scope([slim.conv2d], activation_fn=None):
      residual = resnet_utils.conv2d_same(residual, depth, 3, stride, rate=rate,
                                          scope='conv2')
    output = tf.nn.relu(shortcut + residual)
    return slim.utils.collect_named_outputs(outputs_collections, unit_scope.name, output)


def resnet_v1(inputs, blocks, num_classes=None, is_training=True, global_pool=True,
              output_stride=None, include_root_block=True, spatial_squeeze=True,
              reuse=None, scope=None):
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
  with tf.compat.v1.variable_scope(scope, 'resnet_v1', [inputs], reuse=reuse) as net_scope:
    end_points_collection = net_scope.original_name_scope + '_end_points'
    with slim.arg_scope([slim.conv2d, bottleneck, basic, resnet_utils.stack_blocks_dense],
                        outputs_collections=end_points_collection):
      with slim.arg_scope([slim.batch_norm], is_training=is_training):
        net = inputs
        if include_root_block:
          if output_stride is not None:
            if output_stride % 4 != 0:
              raise ValueError('The output_stride needs to be a multiple of 4.')
            output_stride //= 4
          net = resnet_utils.conv2d_same(net, 64, 7, stride=2, scope='conv1')
          net = slim.max_pool2d(net, [3, 3], stride=2, scope='pool1')
        net = resnet_utils.stack_blocks_dense(net, blocks, output_stride)
        end_points = slim.utils.convert_collection_to_dict(end_points_collection)
        if global_pool:
          net = tf.reduce_mean(net, [1, 2], name='pool5', keepdims=True)
          end_points['global_pool'] = net
        if num_classes is not None:
          net = slim.conv2d(net, num_classes, [1, 1], activation_fn=None,
                            normalizer_fn=None, scope='logits')
          end_points[net_scope.name + '/logits'] = net
          if spatial_squeeze and global_pool:
            net = tf.squeeze(net, [1, 2], name='SpatialSqueeze')
            end_points[net_scope.name + '/spatial_squeeze'] = net
          end_points['predictions'] = slim.softmax(net, scope='predictions')
        return net, end_points


resnet_v1.default_image_size = 224


def resnet_v1_block(scope, base_depth, num_units, stride):
  """A block of ``num_units`` bottleneck units of output depth 4 * base_depth; the
  last unit has ``stride``, the others 1."""
  unit = {'depth': base_depth * 4, 'depth_bottleneck': base_depth, 'stride': 1}
  return resnet_utils.Block(
      scope, bottleneck, [unit] * (num_units - 1) + [dict(unit, stride=stride)])


def resnet_v1_basic_block(scope, depth, num_units, stride):
  """A block of ``num_units`` basic units of depth ``depth``; the last unit has
  ``stride``, the others 1."""
  unit = {'depth': depth, 'stride': 1}
  return resnet_utils.Block(scope, basic, [unit] * (num_units - 1) + [dict(unit, stride=stride)])


def _bottleneck_blocks(units_per_block):
  return [resnet_v1_block('block%d' % (index + 1), base_depth, units, stride)
          for index, (base_depth, units, stride)
          in enumerate(zip((64, 128, 256, 512), units_per_block, (2, 2, 2, 1)))]


def _basic_blocks(units_per_block):
  return [resnet_v1_basic_block('block%d' % (index + 1), depth, units, stride)
          for index, (depth, units, stride)
          in enumerate(zip((64, 128, 256, 512), units_per_block, (2, 2, 2, 1)))]


def _named_resnet(name, blocks_fn, units_per_block):
  """Defines resnet_v1_<depth>(inputs, num_classes, ...) with its default scope."""

  def network(inputs, num_classes=None, is_training=True, global_pool=True,
              output_stride=None, spatial_squeeze=True, reuse=None, scope=name):
    return resnet_v1(inputs, blocks_fn(units_per_block), num_classes, is_training,
                     global_pool, output_stride, include_root_block=True,
                     spatial_squeeze=spatial_squeeze, reuse=reuse, scope=scope)

  network.__name__ = name
  network.__doc__ = ('%s: ResNet v1 with %s units per block. See resnet_v1() for the '
                     'arguments and return values.' % (name, list(units_per_block)))
  network.default_image_size = resnet_v1.default_image_size
  return network


resnet_v1_18 = _named_resnet('resnet_v1_18', _basic_blocks, (2, 2, 2, 2))
resnet_v1_34 = _named_resnet('resnet_v1_34', _basic_blocks, (3, 4, 6, 3))
resnet_v1_50 = _named_resnet('resnet_v1_50', _bottleneck_blocks, (3, 4, 6, 3))
resnet_v1_101 = _named_resnet('resnet_v1_101', _bottleneck_blocks, (3, 4, 23, 3))
resnet_v1_152 = _named_resnet('resnet_v1_152', _bottleneck_blocks, (3, 8, 36, 3))
resnet_v1_200 = _named_resnet('resnet_v1_200', _bottleneck_blocks, (3, 24, 36, 3))
