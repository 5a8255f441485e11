"""The SIGNS course's ResNet-50 in TF1 style: shapes, the course's layer names, the same
layers (in order, with their kinds, weight and output shapes) and parameter count as a
Keras 3 build of the course model, input-size errors, and a few training steps."""

import keras
import netutil
import numpy as np
import pytest
import tensorflow as tf
import tf_slim as slim

from nets import resnet50_signs

pytestmark = netutil.QUIET

SCOPE = 'resnet50_signs'
COURSE_TRAINABLE_PARAMS = 23546886  # The course notebook's model.summary().
COURSE_NON_TRAINABLE_PARAMS = 53120  # Batch-norm moving means and variances.
_KERAS_WEIGHT_NAMES = {'weights': 'kernel', 'biases': 'bias'}  # Others are the same.


def _build(num_classes=6, image_size=64, is_training=True):
  """The network under its arg scope on a [None, size, size, 3] placeholder."""
  images = netutil.placeholder([None, image_size, image_size, 3])
  with slim.arg_scope(resnet50_signs.resnet50_signs_arg_scope()):
    logits, end_points = resnet50_signs.resnet50_signs(images, num_classes,
                                                       is_training=is_training)
  return images, logits, end_points


def _keras_course_model(num_classes=6):
  """The course's Keras ResNet-50: identity and convolutional blocks, Keras names.

  Returns:
    The model, and its named layers in the order the course's code creates them
    (``model.layers`` is topologically sorted: it puts res2a_branch1 before
    bn2a_branch2c).
  """
  layers = keras.layers
  named = []

  def add(layer):
    named.append(layer)
    return layer

  def conv_bn(x, filters, kernel, stride, padding, conv_name, bn_name):
    x = add(layers.Conv2D(filters, kernel, strides=stride, padding=padding, name=conv_name))(x)
    return add(layers.BatchNormalization(axis=3, name=bn_name))(x)

  inputs = keras.Input((64, 64, 3))
  x = layers.ZeroPadding2D(3)(inputs)
  x = layers.Activation('relu')(conv_bn(x, 64, 7, 2, 'valid', 'conv1', 'bn_conv1'))
  x = layers.MaxPooling2D(3, strides=2)(x)
  for stage, (filters, units, stride) in enumerate(resnet50_signs.STAGES, start=2):
    for index in range(units):
      name = '%d%s' % (stage, 'abcdef'[index])
      unit_stride = stride if index == 0 else 1
      shortcut = x
      for branch, depth, kernel, padding in zip('abc', filters, (1, 3, 1),
                                                ('valid', 'same', 'valid')):
        x = conv_bn(x, depth, kernel, unit_stride if branch == 'a' else 1, padding,
                    'res%s_branch2%s' % (name, branch), 'bn%s_branch2%s' % (name, branch))
        if branch != 'c':
          x = layers.Activation('relu')(x)
      if index == 0:
        shortcut = conv_bn(shortcut, filters[2], 1, unit_stride, 'valid',
                           'res%s_branch1' % name, 'bn%s_branch1' % name)
      x = layers.Activation('relu')(layers.Add()([x, shortcut]))
  x = layers.Flatten()(add(layers.AveragePooling2D(2, name='avg_pool'))(x))
  outputs = add(layers.Dense(num_classes, activation='softmax', name='fc%d' % num_classes))(x)
  return keras.Model(inputs, outputs), named


def _keras_layers(named_layers):
  """(name, kind, [(weight name, shape)], output shape without batch) of each layer."""
  return [(layer.name, type(layer).__name__, [(w.name, tuple(w.shape)) for w in layer.weights],
           tuple(layer.output.shape[1:]))
          for layer in named_layers]


def _kind(variables):
  """The Keras class of a TF1 layer, from its variables' names and shapes."""
  by_name = {v.op.name.rsplit('/', 1)[1]: v for v in variables}
  if 'gamma' in by_name:
    return 'BatchNormalization'
  if not by_name:
    return 'AveragePooling2D'
  return {4: 'Conv2D', 2: 'Dense'}[by_name['weights'].shape.rank]


def _our_layers(end_points):
  """_keras_layers for the TF1 graph: its named layers in creation order, with slim's
  variable names in Keras' words."""
  variables = {}
  for variable in tf.compat.v1.global_variables():
    variables.setdefault(variable.op.name.split('/')[1], []).append(variable)
  found = []
  for name, output in end_points.items():
    layer = name.split('/')[-1]
    if layer in variables or layer == 'avg_pool':
      layer_variables = variables.get(layer, [])
      found.append((layer, _kind(layer_variables),
                    [(_KERAS_WEIGHT_NAMES.get(v.op.name.rsplit('/', 1)[1],
                                              v.op.name.rsplit('/', 1)[1]),
                      tuple(v.shape.as_list())) for v in layer_variables],
                    tuple(output.shape.as_list()[1:])))
  return found


def _parameter_count(variables):
  return sum(v.shape.num_elements() for v in variables)


def test_logits_end_points_and_stage_shapes():
  with tf.Graph().as_default():
    _, logits, end_points = _build(num_classes=10)
    shapes = {name: end_points['%s/%s' % (SCOPE, name)].shape.as_list()
              for name in ('conv1', 'max_pool', 'res2c', 'res3d', 'res4f', 'res5c',
                           'avg_pool', 'fc10')}
    assert logits.shape.as_list() == [None, 10]
    assert end_points['predictions'].shape.as_list() == [None, 10]
    assert list(end_points)[-1] == 'predictions'
  assert shapes == {'conv1': [None, 32, 32, 64], 'max_pool': [None, 15, 15, 64],
                    'res2c': [None, 15, 15, 256], 'res3d': [None, 8, 8, 512],
                    'res4f': [None, 4, 4, 1024], 'res5c': [None, 2, 2, 2048],
                    'avg_pool': [None, 1, 1, 2048], 'fc10': [None, 10]}


def test_course_layer_names_and_counts():
  with tf.Graph().as_default():
    _, logits, _ = _build()
    names = [v.op.name for v in tf.compat.v1.global_variables()]
    assert logits.shape.as_list() == [None, 6]
  layers = {name.split('/')[1] for name in names}
  for expected in ('conv1/weights', 'conv1/biases', 'bn_conv1/moving_mean',
                   'res2a_branch2a/weights', 'bn2a_branch2a/gamma', 'bn2a_branch2a/beta',
                   'bn2a_branch2a/moving_variance', 'res2a_branch1/weights',
                   'bn2a_branch1/gamma', 'res3d_branch2b/weights', 'res4f_branch2c/biases',
                   'bn5a_branch1/moving_mean', 'res5c_branch2c/weights', 'bn5c_branch2c/beta',
                   'fc6/weights', 'fc6/biases'):
    assert '%s/%s' % (SCOPE, expected) in names
  convolutions = [n for n in names if n.endswith('/weights') and '/fc' not in n]
  assert len(convolutions) == 53
  assert len([n for n in convolutions if n.endswith('_branch1/weights')]) == 4
  assert len([n for n in names if n.endswith('/gamma')]) == 53
  assert {n for n in names if '/fc' in n} == {SCOPE + '/fc6/weights', SCOPE + '/fc6/biases'}
  assert len(layers) == 53 + 53 + 1


def test_same_layers_and_parameters_as_the_keras_course_model():
  with tf.Graph().as_default():
    _, _, end_points = _build()
    ours = _our_layers(end_points)
    trainable = _parameter_count(tf.compat.v1.trainable_variables())
    non_trainable = _parameter_count(tf.compat.v1.global_variables()) - trainable
  keras_model, keras_named_layers = _keras_course_model()
  assert ours == _keras_layers(keras_named_layers)
  assert set(keras_named_layers) == {layer for layer in keras_model.layers
                                     if layer.weights or layer.name == 'avg_pool'}
  assert trainable == keras_model.count_params() - non_trainable
  assert trainable == sum(int(np.prod(w.shape)) for w in keras_model.trainable_weights)
  assert (trainable, non_trainable) == (COURSE_TRAINABLE_PARAMS, COURSE_NON_TRAINABLE_PARAMS)


def test_reuse_shares_the_variables_and_the_end_point_names():
  with tf.Graph().as_default():
    images, _, end_points = _build()
    variables = tf.compat.v1.global_variables()
    with slim.arg_scope(resnet50_signs.resnet50_signs_arg_scope()):
      _, reused_end_points = resnet50_signs.resnet50_signs(images, is_training=False,
                                                           reuse=True)
    assert tf.compat.v1.global_variables() == variables
  assert list(reused_end_points) == list(end_points)


def test_unknown_image_size_is_a_clear_error():
  with tf.Graph().as_default():
    with pytest.raises(ValueError, match='static height and width'):
      resnet50_signs.resnet50_signs(netutil.placeholder([None, None, None, 3]))


def test_smallest_valid_image_size_is_37():
  with tf.Graph().as_default():
    with pytest.raises(ValueError, match='too small.*at least 37x37'):
      _build(image_size=36)
  with tf.Graph().as_default():
    _, logits, end_points = _build(image_size=37)
    assert end_points[SCOPE + '/res5c'].shape.as_list() == [None, 2, 2, 2048]
    assert logits.shape.as_list() == [None, 6]


def test_training_steps_reduce_the_loss_and_update_the_moving_statistics():
  batch = netutil.random_images(8, 64, 64)
  labels = np.array([0, 1, 2, 3, 4, 5, 0, 1])
  with netutil.graph_session() as sess:
    images, logits, _ = _build()
    loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
    with tf.control_dependencies(tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)):
      train_op = tf.compat.v1.train.AdamOptimizer(1e-3).minimize(loss)
    moving_mean = netutil.variables_named('bn_conv1/moving_mean')[0]
    netutil.initialize(sess)
    feed = {images: batch}
    start, mean_before = sess.run([loss, moving_mean], feed)
    for _ in range(10):
      sess.run(train_op, feed)
    end, mean_after = sess.run([loss, moving_mean], feed)
  assert end < start
  assert not np.allclose(mean_before, mean_after)
