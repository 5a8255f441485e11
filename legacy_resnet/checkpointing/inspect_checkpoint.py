"""Lists a checkpoint's variables with their shapes and, given a model, compares them.

  python -m legacy_resnet.checkpointing.inspect_checkpoint CKPT [--model_name resnet_v1_50 \\
      --num_classes 6 --checkpoint_exclude_scopes resnet_v1_50/logits]

CKPT is a checkpoint prefix or a folder (its newest checkpoint). The comparison is the
report of a warm start with ``train_graph.py --checkpoint_path CKPT``.
"""

import sys

import tensorflow as tf
import tf_slim as slim

from legacy_resnet.checkpointing import checkpoints
from legacy_resnet.graph import model_graph
from legacy_resnet.core import cli
from nets import nets_factory


def compare(prefix, model_name, num_classes, image_size, exclude_scopes):
  """The WarmStartReport of ``model_name`` against checkpoint ``prefix``."""
  with tf.Graph().as_default():
    model_graph.build_classifier(model_name, num_classes, (image_size, image_size))
    return checkpoints.match_variables(prefix, slim.get_model_variables(), exclude_scopes)[1]


def main(argv):
  p = cli.ArgumentParser(prog='python -m legacy_resnet.checkpointing.inspect_checkpoint',
                         description=__doc__.split('\n')[0])
  p.add_argument('checkpoint_path')
  p.add_argument('--model_name', choices=sorted(nets_factory.networks_map),
                 metavar='MODEL_NAME', help='compare against this network')
  p.add_argument('--num_classes', type=cli.positive_int, default=1000)
  p.add_argument('--image_size', type=cli.positive_int, default=224)
  p.add_argument('--checkpoint_exclude_scopes', type=cli.comma_list, default=[])
  settings = p.parse_args(argv)
  prefix = checkpoints.resolve(settings.checkpoint_path)
  if not settings.model_name:
    shapes = checkpoints.variable_shapes(prefix)
    for name, shape in sorted(shapes.items()):
      print('%s %s' % (name, shape))
    print('%d variables in %s' % (len(shapes), prefix))
    return
  report = compare(prefix, settings.model_name, settings.num_classes, settings.image_size,
                   settings.checkpoint_exclude_scopes)
  for kind in ('excluded', 'missing', 'shape_mismatched'):
    for line in getattr(report, kind):
      print('%s: %s' % (kind, line))
  print('%s against %s: %s' % (settings.model_name, prefix, checkpoints.summarize(report)))


if __name__ == '__main__':
  sys.exit(cli.run(main, sys.argv[1:]))
