"""The nets factory: every network by name, with its arg scope applied."""

import pytest
import tensorflow as tf

from nets import nets_factory


@pytest.mark.parametrize('name', sorted(nets_factory.networks_map))
def test_every_network_gives_class_logits(name):
  with tf.Graph().as_default():
    network = nets_factory.get_network_fn(name, 6)
    logits, end_points = network(tf.compat.v1.placeholder(tf.float32, [None, 64, 64, 3]))
    assert logits.shape.as_list() == [None, 6]
    assert end_points['predictions'].shape.as_list() == [None, 6]
    assert network.default_image_size in (64, 224)


def test_unknown_name_lists_the_known_ones():
  with pytest.raises(ValueError, match='resnet_v9.*known: resnet50_signs, resnet_v1_101'):
    nets_factory.get_network_fn('resnet_v9', 6)


@pytest.mark.parametrize('name', ['resnet_v1_18', 'resnet50_signs'])
def test_weight_decay_reaches_the_arg_scope(name):
  counts = []
  for weight_decay in (0.0, 1e-4):
    with tf.Graph().as_default():
      network = nets_factory.get_network_fn(name, 6, weight_decay=weight_decay)
      network(tf.compat.v1.placeholder(tf.float32, [None, 64, 64, 3]))
      counts.append(len(tf.compat.v1.losses.get_regularization_losses()))
  assert counts[1] > 0 and counts[1] > counts[0]
