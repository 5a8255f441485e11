"""The ResNet-50 of the deep-learning course's "Residual Networks" assignment (SIGNS hand
signs), in TF1 / tf-slim style, with the course's Keras layer names.

Architecture (shapes for the course's 64x64 input)::

  zero-pad 3                                   [N, 70, 70, 3]
  conv1 7x7/2 (64) + bn_conv1 + ReLU           [N, 32, 32, 64]
  3x3/2 max pool ('max_pool')                  [N, 15, 15, 64]
  stage 2: [64, 64, 256] x 3, stride 1         [N, 15, 15, 256]
  stage 3: [128, 128, 512] x 4, stride 2       [N, 8, 8, 512]
  stage 4: [256, 256, 1024] x 6, stride 2      [N, 4, 4, 1024]
  stage 5: [512, 512, 2048] x 3, stride 2      [N, 2, 2, 2048]
  2x2/2 average pool ('avg_pool'), flatten     [N, 2048]
  dense 'fc<num_classes>' (logits)             [N, num_classes]

Each unit is a bottleneck: 1x1 ('valid'), 3x3 ('same'), 1x1 ('valid') convolutions with
biases, each followed by batch norm; ReLU after all but the last. The first unit of a
stage is the course's "convolutional block": its first 1x1 convolution carries the
stride and its shortcut is a 1x1 projection with batch norm. The other units are
"identity blocks". The unit output is ReLU(residual + shortcut).

Layer (and variable scope) names, under the network scope ``resnet50_signs``:
``conv1``, ``bn_conv1``, ``res2a_branch2a``, ``bn2a_branch2a``, ..., ``res2a_branch2c``,
``bn2a_branch2c``, ``res2a_branch1``, ``bn2a_branch1``, ``res2b_branch2a``, ...,
``res5c_branch2c``, ``bn5c_branch2c``, ``fc6``. Variables are e.g.
``resnet50_signs/res2a_branch2a/weights`` and ``.../biases``,
``resnet50_signs/bn2a_branch2a/gamma``, ``beta``, ``moving_mean``, ``moving_variance``,
``resnet50_signs/fc6/weights``.

Valid inputs: any static height and width of at least 37 pixels (stage 5 must leave at
least 2x2 for the average pool). The dense layer's input size depends on them:
2048 * floor(s / 2) ** 2 for a stage-5 map of s x s, 2048 at 64x64.
"""

import string

import tensorflow as tf
import tf_slim as slim

from legacy_resnet.core import compat  # noqa: F401  (tf-slim's layers need it first)
from nets import resnet_utils

# (filters of the 1x1, 3x3 and 1x1 convolutions, units, stride of the first unit) of
# stages 2, 3, 4 and 5.
STAGES = (((64, 64, 256), 3, 1),
          ((128, 128, 512), 4, 2),
          ((256, 256, 1024), 6, 2),
          ((512, 512, 2048), 3, 2))

# Kernel size, stride source and padding of the three convolutions of a unit: only the
# first one subsamples, only the 3x3 pads.
_BRANCH2 = (('a', 1, 'VALID'), ('b', 3, 'SAME'), ('c', 1, 'VALID'))


def resnet50_signs_arg_scope(weight_decay=0.0,
                             batch_norm_decay=0.99,
                             batch_norm_epsilon=1e-3,
                             seed=0,
                             batch_norm_updates_collections=tf.compat.v1.GraphKeys.UPDATE_OPS):
  """The course's training defaults, for ``slim.arg_scope(resnet50_signs_arg_scope())``.

  Args:
    weight_decay: L2 penalty ``weight_decay * sum(w ** 2) / 2`` on the convolution and
      dense weights, added to REGULARIZATION_LOSSES (0: none, as in the course).
    batch_norm_decay: decay of the moving mean and variance (Keras' momentum 0.99).
    batch_norm_epsilon: added to the variance (Keras' 1e-3).
    seed: seed of the Glorot-uniform initializer of every weight tensor (the course's
      ``glorot_uniform(seed=0)``); None for unseeded.
    batch_norm_updates_collections: where batch norm puts its moving-statistics
      updates; the train op must depend on them.

  Returns:
    An arg scope. It sets hyperparameters only: the layer structure (biases, batch
    norm with scale and offset, no activation inside a convolution) is fixed by
    ``resnet50_signs`` itself.
  """
  with slim.arg_scope([slim.conv2d, slim.fully_connected],
                      weights_initializer=tf.compat.v1.glorot_uniform_initializer(seed=seed),
                      weights_regularizer=slim.l2_regularizer(weight_decay)):
    with slim.arg_scope([slim.batch_norm], decay=batch_norm_decay, epsilon=batch_norm_epsilon,
                        updates_collections=batch_norm_updates_collections) as scope:
      return scope


def _collect(collection, name, net):
  """Adds ``net`` to ``collection`` as '<variable scope>/<name>'. Layers without
  variables would otherwise be named by their name scope, which a reused network
  suffixes ('resnet50_signs_1/avg_pool')."""
  alias = '%s/%s' % (tf.compat.v1.get_variable_scope().name, name)
  return slim.utils.collect_named_outputs(collection, alias, net)


def _conv_bn(inputs, depth, kernel_size, stride, padding, conv_name, bn_name):
  """Convolution ``conv_name`` (with biases, no activation), then batch norm ``bn_name``.

  Args:
    inputs: [batch, height, width, channels].

  Returns:
    [batch, out_height, out_width, depth], before any ReLU.
  """
  net = slim.conv2d(inputs, depth, kernel_size, stride=stride, padding=padding, scope=conv_name)
  return slim.batch_norm(net, scope=bn_name)


@slim.add_arg_scope
def bottleneck(inputs, filters, stride, name, projection, outputs_collections=None):
  """One unit of the course's ResNet-50, e.g. ``name='2a'``.

  Args:
    inputs: [batch, height, width, channels].
    filters: (f1, f2, f3), the depths of the 1x1, 3x3 and 1x1 convolutions.
    stride: subsampling of the first 1x1 convolution and of the projection.
    name: stage number and unit letter; layers are ``res<name>_branch2a`` etc.
    projection: the course's convolutional block (a 1x1 convolution + batch norm on
      the shortcut) rather than an identity block; needed when the depth or the
      resolution changes.
    outputs_collections: collection that receives the unit output as
      ``<scope>/res<name>``.

  Returns:
    [batch, ceil(height / stride), ceil(width / stride), f3].
  """
  residual = inputs
  for (branch, kernel_size, padding), depth in zip(_BRANCH2, filters):
    residual = _conv_bn(residual, depth, kernel_size, stride if branch == 'a' else 1, padding,
                        'res%s_branch2%s' % (name, branch), 'bn%s_branch2%s' % (name, branch))
    if branch != 'c':
      residual = tf.nn.relu(residual)
  shortcut = inputs
  if projection:  # After the main path, so layers are created in the course's order.
    shortcut = _conv_bn(inputs, filters[2], 1, stride, 'VALID', 'res%s_branch1' % name,
                        'bn%s_branch1' % name)
  output = tf.nn.relu(residual + shortcut, name='res%s' % name)
  return _collect(outputs_collections, 'res%s' % name, output)


def _stage(net, stage, filters, num_units, stride):
  """Stage ``stage`` (2-5): a convolutional block with ``stride``, then identity blocks.

  Returns:
    [batch, ceil(height / stride), ceil(width / stride), filters[2]].
  """
  for index in range(num_units):
    net = bottleneck(net, filters, stride if index == 0 else 1,
                     '%d%s' % (stage, string.ascii_lowercase[index]), projection=index == 0)
  return net


def _check_static_size(inputs):
  """The dense layer's input size depends on the image size, so it must be known."""
  if None in inputs.shape.as_list()[1:3]:
    raise ValueError('resnet50_signs needs a static height and width (the size of its dense '
                     'layer depends on them), got input shape %s' % inputs.shape.as_list())


def _check_poolable(net, inputs):
  """The 2x2 average pool needs at least 2x2 after stage 5."""
  if min(net.shape.as_list()[1:3]) < 2:
    raise ValueError('resnet50_signs: input %s is too small: stage 5 gives %s, the 2x2 '
                     'average pool needs at least 2x2 (inputs of at least 37x37)'
                     % (inputs.shape.as_list(), net.shape.as_list()))


def resnet50_signs(inputs, num_classes=6, is_training=True, reuse=None, scope='resnet50_signs'):
  """The course's ResNet-50 (see the module docstring for layers and names).

  Hyperparameters (initializer, weight decay, batch-norm decay and epsilon, where
  the moving-statistics updates go) come from the enclosing arg scope; use
  ``slim.arg_scope(resnet50_signs_arg_scope())`` for the course's.

  Args:
    inputs: [batch, height, width, 3], height and width static and >= 37 (the course
      uses 64x64).
    num_classes: outputs of the dense layer ``fc<num_classes>``.
    is_training: batch norm on batch statistics, with moving-statistics updates
      (True), or on the moving statistics (False); also a scalar bool tensor, which
      picks at run time.
    reuse: reuse the variables of ``scope``.
    scope: variable scope.

  Returns:
    logits: [batch, num_classes], before the softmax.
    end_points: ordered dict, in creation order, of '<scope>/<layer>' -> that layer's
      output for every layer named in the module docstring (convolutions and batch
      norms before the ReLU) and for 'max_pool' and 'avg_pool'; '<scope>/res<unit>'
      -> each unit's output (the stage outputs are '<scope>/res2c', 'res3d', 'res4f'
      and 'res5c'); 'predictions' -> the softmax [batch, num_classes].

  Raises:
    ValueError: for an input height or width that is unknown or below 37.
  """
  _check_static_size(inputs)
  with tf.compat.v1.variable_scope(scope, 'resnet50_signs', [inputs], reuse=reuse) as net_scope:
    end_points_collection = net_scope.original_name_scope + '_end_points'
    with slim.arg_scope([slim.conv2d, slim.batch_norm, slim.fully_connected, bottleneck],
                        outputs_collections=end_points_collection), \
        slim.arg_scope([slim.conv2d, slim.fully_connected], activation_fn=None,
                       normalizer_fn=None), \
        slim.arg_scope([slim.batch_norm], center=True, scale=True, is_training=is_training):
      net = tf.pad(inputs, [[0, 0], [3, 3], [3, 3], [0, 0]], name='zero_padding')
      net = tf.nn.relu(_conv_bn(net, 64, 7, 2, 'VALID', 'conv1', 'bn_conv1'))
      net = _collect(end_points_collection, 'max_pool',
                     slim.max_pool2d(net, [3, 3], stride=2, padding='VALID', scope='max_pool'))
      for stage, (filters, num_units, stride) in enumerate(STAGES, start=2):
        net = _stage(net, stage, filters, num_units, stride)
      _check_poolable(net, inputs)
      net = _collect(end_points_collection, 'avg_pool',
                     slim.avg_pool2d(net, [2, 2], stride=2, padding='VALID', scope='avg_pool'))
      net = slim.flatten(net)
      logits = slim.fully_connected(net, num_classes, scope='fc%d' % num_classes)
      end_points = slim.utils.convert_collection_to_dict(end_points_collection)
      end_points['predictions'] = slim.softmax(logits, scope='predictions')
  return logits, end_points


resnet50_signs.default_image_size = 64
# The unit names ('2a', '2b', ...) of each stage.
_STAGE_UNITS = [['%d%s' % (stage, letter) for letter in string.ascii_lowercase[:units]]
                for stage, (_, units, _) in enumerate(STAGES, start=2)]
resnet50_signs.declaration = resnet_utils.Declaration(
    fully_convolutional=False,  # The dense layer's size follows the image size.
    feature_blocks=tuple('res' + units[-1] for units in _STAGE_UNITS),
    zero_init_scales=tuple('bn%s_branch2c/gamma' % unit for units in _STAGE_UNITS
                           for unit in units))
