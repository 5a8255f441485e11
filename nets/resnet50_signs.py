"""The ResNet-50 of the deep-learning course's SIGNS assignment, in TF1 / tf-slim style.

Same structure and layer names as the course's Keras model, so the two can be compared
layer by layer: zero-pad 3, ``conv1`` 7x7/2 (64) + ``bn_conv1`` + ReLU, 3x3/2 max pool,
then stages 2-5 of bottleneck units (1x1, 3x3, 1x1): [64, 64, 256] x 3 (first unit
stride 1), [128, 128, 512] x 4, [256, 256, 1024] x 6, [512, 512, 2048] x 3. The first
unit of a stage (the course's "convolutional block", letter 'a') subsamples with its
first 1x1 convolution and has a 1x1 projection shortcut with batch norm; the others
("identity blocks") add their input. Then a 2x2 average pool (``avg_pool``), flatten,
and a dense softmax layer ``fc<num_classes>``.

Layer names: ``res<stage><unit>_branch2a/2b/2c`` (convolutions), ``bn<stage><unit>_branch2a``
... (their batch norms), ``res<stage>a_branch1`` / ``bn<stage>a_branch1`` (projection),
e.g. ``resnet50_signs/res2a_branch2a/weights``, ``resnet50_signs/bn2a_branch2a/gamma``.
"""

import string

import tensorflow as tf
import tf_slim as slim

# (filters of the three convolutions, units, stride of the first unit) per stage 2..5.
STAGES = (((64, 64, 256), 3, 1), ((128, 128, 512), 4, 2), ((256, 256, 1024), 6, 2),
          ((512, 512, 2048), 3, 2))


def resnet50_signs_arg_scope(weight_decay=0.0, batch_norm_decay=0.99, batch_norm_epsilon=1e-3,
                             seed=0):
  """The course's layer defaults: Glorot-uniform convolutions with biases (seeded as in
  the course), batch norm over channels with Keras' decay and epsilon; moving-statistics
  updates go to ``UPDATE_OPS``."""
  with slim.arg_scope([slim.conv2d, slim.fully_connected],
                      weights_initializer=tf.compat.v1.glorot_uniform_initializer(seed=seed),
                      weights_regularizer=slim.l2_regularizer(weight_decay) if weight_decay
                      else None,
                      activation_fn=None, normalizer_fn=None):
    with slim.arg_scope([slim.batch_norm], decay=batch_norm_decay, epsilon=batch_norm_epsilon,
                        scale=True, updates_collections=tf.compat.v1.GraphKeys.UPDATE_OPS):
      with slim.arg_scope([slim.max_pool2d, slim.avg_pool2d], padding='VALID') as scope:
        return scope


def _conv_bn(net, filters, kernel, stride, padding, conv_name, bn_name, relu):
  """Convolution ``conv_name`` and batch norm ``bn_name``, then ReLU when asked."""
  net = slim.conv2d(net, filters, kernel, stride=stride, padding=padding, scope=conv_name)
  net = slim.batch_norm(net, scope=bn_name)
  return tf.nn.relu(net) if relu else net


def unit(net, filters, stride, name, projection):
  """One bottleneck unit, e.g. ``name='2a'``.

  Args:
    net: [batch, height, width, channels].
    filters: (f1, f2, f3) of the 1x1, 3x3 and 1x1 convolutions.
    stride: subsampling of the first 1x1 convolution (and of the projection).
    name: stage number and unit letter.
    projection: add a 1x1 convolution + batch norm on the shortcut.

  Returns:
    [batch, ceil(height / stride), ceil(width / stride), f3].
  """
  shortcut = net
  for branch, depth, kernel, branch_stride, padding in (
      ('2a', filters[0], 1, stride, 'VALID'), ('2b', filters[1], 3, 1, 'SAME'),
      ('2c', filters[2], 1, 1, 'VALID')):
    net = _conv_bn(net, depth, kernel, branch_stride, padding, 'res%s_branch%s' % (name, branch),
                   'bn%s_branch%s' % (name, branch), relu=branch != '2c')
  if projection:
    shortcut = _conv_bn(shortcut, filters[2], 1, stride, 'VALID', 'res%s_branch1' % name,
                        'bn%s_branch1' % name, relu=False)
  return tf.nn.relu(net + shortcut, name='res%s' % name)


def resnet50_signs(inputs, num_classes=6, is_training=True, reuse=None, scope='resnet50_signs'):
  """The course's ResNet-50.

  Args:
    inputs: [batch, height, width, 3]; height and width must leave a feature map of at
      least 2x2 after stage 5 (64x64, the course's size, leaves exactly 2x2).
    num_classes: classes of the dense softmax layer ``fc<num_classes>``.
    is_training: batch norm on batch statistics (True, or a bool tensor) or on the
      moving ones.
    reuse: reuse the variables of ``scope``.
    scope: variable scope.

  Returns:
    logits [batch, num_classes] and end points: 'conv1', one per stage
    ('<scope>/res2c', '<scope>/res3d', '<scope>/res4f', '<scope>/res5c'), 'avg_pool',
    '<scope>/fc<num_classes>' and 'predictions' (softmax).

  Raises:
    ValueError: for inputs too small for the 2x2 average pool.
  """
  end_points = {}
  with tf.compat.v1.variable_scope(scope, 'resnet50_signs', [inputs], reuse=reuse) as net_scope:
    with slim.arg_scope([slim.batch_norm], is_training=is_training):
      net = tf.pad(inputs, [[0, 0], [3, 3], [3, 3], [0, 0]])
      net = _conv_bn(net, 64, 7, 2, 'VALID', 'conv1', 'bn_conv1', relu=True)
      end_points['conv1'] = net
      net = slim.max_pool2d(net, [3, 3], stride=2, scope='max_pool')
      for stage, (filters, units, stride) in enumerate(STAGES, start=2):
        for index in range(units):
          name = '%d%s' % (stage, string.ascii_lowercase[index])
          net = unit(net, filters, stride if index == 0 else 1, name, projection=index == 0)
        end_points['%s/res%s' % (net_scope.name, name)] = net
      if None not in net.shape[1:3] and min(net.shape[1:3]) < 2:
        raise ValueError('resnet50_signs: input %s is too small; stage 5 gives %s, the '
                         'average pool needs at least 2x2'
                         % (inputs.shape.as_list(), net.shape.as_list()))
      net = slim.avg_pool2d(net, [2, 2], stride=2, scope='avg_pool')
      end_points['avg_pool'] = net
      net = slim.flatten(net)
      logits = slim.fully_connected(net, num_classes, scope='fc%d' % num_classes)
      end_points['%s/fc%d' % (net_scope.name, num_classes)] = logits
      end_points['predictions'] = slim.softmax(logits, scope='predictions')
  return logits, end_points


resnet50_signs.default_image_size = 64
