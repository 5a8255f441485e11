"""Building blocks shared by the ResNet definitions.

The layout follows tf-slim's ``nets/resnet_utils.py`` so that graphs, variable names
and numbers are the same: a network is a list of ``Block``s, each a list of units;
a block subsamples in its last unit, and ``stack_blocks_dense`` can trade that
subsampling for atrous (dilated) convolution to keep feature maps dense.
"""

import collections

import tensorflow as tf
import tf_slim as slim

from legacy_resnet.core import compat  # noqa: F401  (tf-slim's layers need it first)


class Block(collections.namedtuple('Block', ['scope', 'unit_fn', 'args'])):
  """One ResNet block: its variable scope, its unit function and one kwargs dict per
  unit (for example ``{'depth': 256, 'depth_bottleneck': 64, 'stride': 1}``)."""


def repeated_unit_block(scope, unit_fn, unit_args, num_units, stride):
  """A ``Block`` of ``num_units`` calls of ``unit_fn`` with ``unit_args``; the last
  unit has ``stride``, the others stride 1."""
  unit = dict(unit_args, stride=1)
  return Block(scope, unit_fn, [unit] * (num_units - 1) + [dict(unit, stride=stride)])


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
def stack_blocks_dense(net, blocks, output_stride=None, store_non_strided_activations=False,
                       outputs_collections=None):
  """Runs ``net`` through ``blocks``, holding the resolution at ``output_stride``.

  Units are created under ``<block.scope>/unit_<i>``. Once the product of the unit
  strides so far reaches ``output_stride``, later units run with stride 1 and an
  atrous rate that grows by the stride they skipped, so their receptive fields stay
  those of the subsampled network. A unit's own ``unit_rate`` (multi-grid, see
  ``with_multi_grid``) multiplies that rate inside the unit.

  Args:
    net: [batch, height, width, channels].
    blocks: list of ``Block``.
    output_stride: wanted ratio of this function's input to output resolution, or
      None for the blocks' nominal stride.
    store_non_strided_activations: run the last unit of each block at stride 1,
      collect that full-resolution output as the block's end point, then subsample
      it by the unit's stride. The result is the same as without it; the end
      points are denser and the last units cost 4x more.
    outputs_collections: collection that receives each block's output.

  Returns:
    [batch, height / output_stride, width / output_stride, channels_out].

  Raises:
    ValueError: when no prefix of the unit strides multiplies to ``output_stride``.
  """
  current_stride = 1
  rate = 1

  def apply_stride(stride):
    """Subsamples by ``stride`` or, once at ``output_stride``, dilates by it instead.
    Returns the subsampling factor to apply now."""
    nonlocal current_stride, rate
    if output_stride is not None and current_stride == output_stride:
      rate *= stride
      return 1
    current_stride *= stride
    if output_stride is not None and current_stride > output_stride:
      raise ValueError('The target output_stride %d cannot be reached.' % output_stride)
    return stride

  for block in blocks:
    with tf.compat.v1.variable_scope(block.scope, 'block', [net]) as block_scope:
      block_stride = 1
      for index, unit in enumerate(block.args):
        if store_non_strided_activations and index == len(block.args) - 1:
          block_stride, unit = unit.get('stride', 1), dict(unit, stride=1)
        with tf.compat.v1.variable_scope('unit_%d' % (index + 1), values=[net]):
          unit_rate = rate
          stride = apply_stride(unit.get('stride', 1))
          net = block.unit_fn(net, rate=unit_rate, **dict(unit, stride=stride))
      net = slim.utils.collect_named_outputs(outputs_collections, block_scope.name, net)
      net = subsample(net, apply_stride(block_stride))
  if output_stride is not None and current_stride != output_stride:
    raise ValueError('The target output_stride %d cannot be reached.' % output_stride)
  return net


class Declaration(collections.namedtuple(
    'Declaration', ['fully_convolutional', 'feature_blocks', 'zero_init_scales'])):
  """What a network says about itself, as timm's models declare their features; every
  named network carries one as its ``declaration``.

  fully_convolutional: it takes ``global_pool=False``, ``output_stride`` and
    ``spatial_squeeze=False``, and then images of any size.
  feature_blocks: the end points of its feature blocks, shallowest first, named under
    the network's scope ('block4' is ``end_points['<scope>/block4']``).
  zero_init_scales: the batch-norm scales, named under the network's scope, that close
    a residual branch: zeroed at the start, every unit begins as an identity and a deep
    network first trains like a shallow one.
  """


class MultiGridError(ValueError):
  """Multi-grid rates that do not fit the block."""


def with_multi_grid(block, unit_rates):
  """``block`` with unit i's atrous rate multiplied by ``unit_rates[i]`` (DeepLab v3's
  multi-grid, e.g. (1, 2, 4) for a three-unit last block).

  Raises:
    MultiGridError: when ``unit_rates`` does not have one positive rate per unit.
  """
  unit_rates = tuple(unit_rates)
  if len(unit_rates) != len(block.args) or not all(
      isinstance(r, int) and r >= 1 for r in unit_rates):
    raise MultiGridError('multi_grid needs %d positive integer rates for %s, got %s'
                     % (len(block.args), block.scope, list(unit_rates)))
  return block._replace(args=[dict(unit, unit_rate=unit_rate)
                              for unit, unit_rate in zip(block.args, unit_rates)])


def resnet(inputs, blocks, units, preactivation, num_classes=None, is_training=True,
           global_pool=True, output_stride=None, include_root_block=True, spatial_squeeze=True,
           store_non_strided_activations=False, reuse=None, scope=None, default_scope='resnet'):
  """Builds a ResNet from ``blocks``: root block, blocks, pooling and logits.

  ``resnet_v1.resnet_v1`` and ``resnet_v2.resnet_v2`` document the arguments they
  share with this function. The two families differ in two places, chosen by
  ``preactivation``: v2's root convolution has neither batch norm nor activation (its
  first unit normalizes its input), and v2 normalizes the last block's output
  ('postnorm' batch norm and ReLU) because its units end on an unnormalized sum.

  Args:
    units: the unit functions used in ``blocks``; their outputs become end points.
    preactivation: build the v2 (pre-activation) layout.
    default_scope: variable scope when ``scope`` is None.
    (others: see ``resnet_v1.resnet_v1``.)

  Returns:
    (net, end_points), see ``resnet_v1.resnet_v1``.
  """
  with tf.compat.v1.variable_scope(scope, default_scope, [inputs], reuse=reuse) as net_scope:
    end_points_collection = net_scope.original_name_scope + '_end_points'
    with slim.arg_scope([slim.conv2d, stack_blocks_dense] + list(units),
                        outputs_collections=end_points_collection):
      with slim.arg_scope([slim.batch_norm], is_training=is_training):
        net = inputs
        if include_root_block:
          if output_stride is not None:
            if output_stride % 4 != 0:
              raise ValueError('The output_stride needs to be a multiple of 4.')
            output_stride //= 4
          root_args = {'activation_fn': None, 'normalizer_fn': None} if preactivation else {}
          with slim.arg_scope([slim.conv2d], **root_args):
            net = conv2d_same(net, 64, 7, stride=2, scope='conv1')
          net = slim.max_pool2d(net, [3, 3], stride=2, scope='pool1')
        net = stack_blocks_dense(net, blocks, output_stride, store_non_strided_activations)
        if preactivation:
          net = slim.batch_norm(net, activation_fn=tf.nn.relu, scope='postnorm')
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


# Base depth (bottleneck: inner depth, basic: depth) and stride of the four blocks
# of every named ResNet.
BLOCK_BASE_DEPTHS = (64, 128, 256, 512)
BLOCK_STRIDES = (2, 2, 2, 1)
# Named depth -> (unit kind, units per block), as in the ResNet papers.
NAMED_LAYOUTS = {
    18: ('basic', (2, 2, 2, 2)),
    34: ('basic', (3, 4, 6, 3)),
    50: ('bottleneck', (3, 4, 6, 3)),
    101: ('bottleneck', (3, 4, 23, 3)),
    152: ('bottleneck', (3, 8, 36, 3)),
    200: ('bottleneck', (3, 24, 36, 3)),
}


def named_resnet(builder, depth, block_fns):
  """Defines ``<builder name>_<depth>``(inputs, num_classes, ...): the four-block
  ResNet of ``NAMED_LAYOUTS[depth]`` that ``builder`` (``resnet_v1.resnet_v1`` or
  ``resnet_v2.resnet_v2``) makes from blocks of
  ``block_fns[unit kind](scope, base_depth, num_units, stride)``.

  The network's own arguments, beyond those of ``builder``:
    min_base_depth, depth_multiplier: each block's base depth is
      max(int(base_depth * depth_multiplier), min_base_depth) (the root stays 64).
    multi_grid: unit rates of the last block (one per unit), see ``with_multi_grid``.
  """

  name = '%s_%d' % (builder.__name__, depth)
  kind, units_per_block = NAMED_LAYOUTS[depth]

  def make_blocks(depth_multiplier=1, min_base_depth=8):
    return [block_fns[kind]('block%d' % (index + 1),
                            max(int(base_depth * depth_multiplier), min_base_depth), units,
                            stride)
            for index, (base_depth, units, stride)
            in enumerate(zip(BLOCK_BASE_DEPTHS, units_per_block, BLOCK_STRIDES))]

  def network(inputs, num_classes=None, is_training=True, global_pool=True,
              output_stride=None, spatial_squeeze=True, store_non_strided_activations=False,
              min_base_depth=8, depth_multiplier=1, multi_grid=None, reuse=None, scope=name):
    blocks = make_blocks(depth_multiplier, min_base_depth)
    if multi_grid is not None:
      blocks[-1] = with_multi_grid(blocks[-1], multi_grid)
    return builder(inputs, blocks, num_classes, is_training, global_pool, output_stride,
                   include_root_block=True, spatial_squeeze=spatial_squeeze,
                   store_non_strided_activations=store_non_strided_activations,
                   reuse=reuse, scope=scope)

  blocks = make_blocks()  # Scope names do not depend on the depths.
  network.declaration = Declaration(
      fully_convolutional=True, feature_blocks=tuple(block.scope for block in blocks),
      zero_init_scales=tuple('%s/unit_%d/%s' % (block.scope, index + 1, block.unit_fn.last_scale)
                             for block in blocks if block.unit_fn.last_scale
                             for index in range(len(block.args))))
  network.__name__ = name
  network.__doc__ = ('%s: %s with %s units per block. See %s() for the arguments and '
                     'return values, and resnet_utils.named_resnet for min_base_depth, '
                     'depth_multiplier and multi_grid.'
                     % (name, builder.__name__, list(units_per_block), builder.__name__))
  network.default_image_size = 224
  return network


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
