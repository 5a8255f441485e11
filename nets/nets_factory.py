"""Networks by name, each wrapped in its arg scope, as in tensorflow/models' slim
``nets_factory``: ``get_network_fn('resnet_v1_50', 6)(images)`` -> (logits, end_points)."""

import functools

import tf_slim as slim

from nets import resnet50_signs
from nets import resnet_utils
from nets import resnet_v1
from nets import resnet_v2

networks_map = {
    'resnet_v1_18': resnet_v1.resnet_v1_18,
    'resnet_v1_34': resnet_v1.resnet_v1_34,
    'resnet_v1_50': resnet_v1.resnet_v1_50,
    'resnet_v1_101': resnet_v1.resnet_v1_101,
    'resnet_v1_152': resnet_v1.resnet_v1_152,
    'resnet_v1_200': resnet_v1.resnet_v1_200,
    'resnet_v2_18': resnet_v2.resnet_v2_18,
    'resnet_v2_34': resnet_v2.resnet_v2_34,
    'resnet_v2_50': resnet_v2.resnet_v2_50,
    'resnet_v2_101': resnet_v2.resnet_v2_101,
    'resnet_v2_152': resnet_v2.resnet_v2_152,
    'resnet_v2_200': resnet_v2.resnet_v2_200,
    'resnet50_signs': resnet50_signs.resnet50_signs,
}

arg_scopes_map = {name: resnet_utils.resnet_arg_scope
                  for name in networks_map if name.startswith(('resnet_v1_', 'resnet_v2_'))}
arg_scopes_map['resnet50_signs'] = resnet50_signs.resnet50_signs_arg_scope


def declaration(name):
  """What network ``name`` declares about itself (``resnet_utils.Declaration``); a
  ValueError for an unknown name."""
  return _network(name).declaration


def _network(name):
  if name not in networks_map:
    raise ValueError('Name of network unknown %s (known: %s)'
                     % (name, ', '.join(sorted(networks_map))))
  return networks_map[name]


def get_network_fn(name, num_classes, weight_decay=0.0, is_training=False, **arg_scope_args):
  """A function that builds network ``name`` under its arg scope.

  Args:
    name: a key of ``networks_map``.
    num_classes: number of classes (resnet_v*: None gives the pooled features).
    weight_decay: L2 penalty on the weights (0: no regularization loss).
    is_training: batch-norm mode used when a call does not pass its own.
    **arg_scope_args: further arguments of the network's arg scope
      (``resnet_utils.resnet_arg_scope`` or
      ``resnet50_signs.resnet50_signs_arg_scope``), e.g. ``batch_norm_decay``.

  Returns:
    network_fn(images [batch, height, width, 3], **network_args) -> (logits
    [batch, num_classes], end_points). ``network_args`` go to the network, e.g.
    ``is_training`` (a Python bool or a scalar bool tensor, which switches batch norm
    at run time) or ``reuse``. ``network_fn.default_image_size`` is the network's
    usual input size, ``network_fn.declaration`` what it declares (``declaration``).

  Raises:
    ValueError: for an unknown name.
    TypeError: for an argument the network's arg scope does not take.
  """
  network = _network(name)
  arg_scope = arg_scopes_map[name](weight_decay=weight_decay, **arg_scope_args)

  @functools.wraps(network)
  def network_fn(images, **network_args):
    network_args.setdefault('is_training', is_training)
    with slim.arg_scope(arg_scope):
      return network(images, num_classes=num_classes, **network_args)

  return network_fn  # functools.wraps gave it the network's attributes.
