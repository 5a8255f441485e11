"""The SIGNS course's ResNet-50 in TF1 style: shapes, the course's layer names, the same
structure and parameter count as a Keras build of the course model, and it trains."""

import keras
import numpy as np
import pytest
import tensorflow as tf
import tf_slim as slim

from nets import nets_factory
from nets import resnet50_signs


def _build(num_classes=6, is_training=True):
  images = tf.compat.v1.placeholder(tf.float32, [None, 64, 64, 3])
  network = nets_factory.get_network_fn('resnet50_signs', num_classes)
  logits, end_points = network(images, is_training=is_training)
  return images, logits, end_points


def _keras_course_model(num_classes=6):
  """The course's Keras ResNet-50 (identity and convolutional blocks), by layer name."""
  layers = keras.layers

  def conv_bn(x, filters, kernel, stride, padding, conv_name, bn_name):
    x = layers.Conv2D(filters, kernel, strides=stride, padding=padding, name=conv_name)(x)
    return layers.BatchNormalization(axis=3, name=bn_name)(x)

  inputs = keras.Input((64, 64, 3))
  x = layers.ZeroPadding2D(3)(inputs)
  x = layers.Activation('relu')(conv_bn(x, 64, 7, 2, 'valid', 'conv1', 'bn_conv1'))
  x = layers.MaxPooling2D(3, strides=2)(x)
  for stage, (filters, units, stride) in enumerate(resnet50_signs.STAGES, start=2):
    for index in range(units):
      name = '%d%s' % (stage, 'abcdef'[index])
      shortcut = x
      for branch, depth, kernel, padding in (('2a', filters[0], 1, 'valid'),
                                             ('2b', filters[1], 3, 'same'),
                                             ('2c', filters[2], 1, 'valid')):
        x = conv_bn(x, depth, kernel, stride if index == 0 and branch == '2a' else 1, padding,
                    'res%s_branch%s' % (name, branch), 'bn%s_branch%s' % (name, branch))
        if branch != '2c':
          x = layers.Activation('relu')(x)
      if index == 0:
        shortcut = conv_bn(shortcut, filters[2], 1, stride, 'valid', 'res%s_branch1' % name,
                           'bn%s_branch1' % name)
      x = layers.Activation('relu')(layers.Add()([x, shortcut]))
  x = layers.Flatten()(layers.AveragePooling2D(2, name='avg_pool')(x))
  outputs = layers.Dense(num_classes, activation='softmax', name='fc%d' % num_classes)(x)
  return keras.Model(inputs, outputs)


def _tf1_layer_shapes(prefix):
  """Layer name -> sorted shapes of its variables, for the TF1 graph."""
  layers = {}
  for variable in tf.compat.v1.global_variables():
    layer = variable.op.name[len(prefix) + 1:].split('/')[0]
    layers.setdefault(layer, []).append(tuple(variable.shape.as_list()))
  return {name: sorted(shapes) for name, shapes in layers.items()}


def _keras_layer_shapes(model):
  return {layer.name: sorted(tuple(w.shape) for w in layer.weights)
          for layer in model.layers if layer.weights}


def test_shapes_and_end_points():
  with tf.Graph().as_default():
    _, logits, end_points = _build(num_classes=10)
    assert logits.shape.as_list() == [None, 10]
    assert end_points['resnet50_signs/res5c'].shape.as_list() == [None, 2, 2, 2048]
    assert end_points['predictions'].shape.as_list() == [None, 10]
    assert 'resnet50_signs/fc10' in end_points


def test_same_layers_and_parameters_as_the_keras_course_model():
  with tf.Graph().as_default():
    _build()
    ours = _tf1_layer_shapes('resnet50_signs')
    trainable = sum(v.shape.num_elements() for v in tf.compat.v1.trainable_variables())
  keras_model = _keras_course_model()
  assert ours == _keras_layer_shapes(keras_model)
  assert len([name for name in ours if name.startswith(('res', 'conv'))]) == 53
  assert trainable == sum(int(np.prod(w.shape)) for w in keras_model.trainable_weights)
  assert trainable == 23546886  # the course notebook's "Trainable params"


def test_too_small_input_is_a_clear_error():
  with tf.Graph().as_default():
    with pytest.raises(ValueError, match='too small'):
      resnet50_signs.resnet50_signs(tf.compat.v1.placeholder(tf.float32, [None, 32, 32, 3]))


def test_trains_with_update_ops_and_a_boolean_tensor_switch():
  with tf.Graph().as_default():
    tf.compat.v1.set_random_seed(0)
    images = tf.compat.v1.placeholder(tf.float32, [None, 64, 64, 3])
    is_training = tf.compat.v1.placeholder_with_default(False, [])
    network = nets_factory.get_network_fn('resnet50_signs', 6)
    logits, _ = network(images, is_training=is_training)
    labels = tf.constant([0, 1, 2, 3, 4, 5, 0, 1], tf.int64)
    loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
    with tf.control_dependencies(tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)):
      train_op = tf.compat.v1.train.AdamOptimizer(1e-3).minimize(loss)
    moving_mean = [v for v in slim.get_model_variables() if 'bn_conv1/moving_mean' in v.op.name]
    batch = np.random.default_rng(0).random((8, 64, 64, 3), dtype=np.float32)
    with tf.compat.v1.Session() as session:
      session.run(tf.compat.v1.global_variables_initializer())
      start, mean_before = session.run([loss, moving_mean[0]], {images: batch, is_training: True})
      for _ in range(10):
        session.run(train_op, {images: batch, is_training: True})
      end, mean_after = session.run([loss, moving_mean[0]], {images: batch, is_training: True})
      train_out = session.run(logits, {images: batch, is_training: True})
      eval_out = session.run(logits, {images: batch})
  assert end < start
  assert not np.allclose(mean_before, mean_after)
  assert not np.allclose(train_out, eval_out)
