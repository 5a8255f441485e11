#!/usr/bin/env python3
"""Evaluate, predict or extract dense features from a checkpoint (see --help and README.md).

Installed as the ``legacy-resnet-eval`` command. The environment is set here, before
``legacy_resnet`` imports TensorFlow, because TensorFlow reads it only then."""

import os
import sys


def main(argv=None):
  argv = sys.argv[1:] if argv is None else argv
  if '--verbose' in argv:
    os.environ['LEGACY_RESNET_VERBOSE'] = '1'
  else:
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')  # read once, when TF is imported
  # No tf.keras here: TensorFlow then loads tf-keras, which tf-slim needs anyway, instead
  # of Keras 3 (and matplotlib through it) at start-up.
  os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
  from legacy_resnet.platform import cli
  from legacy_resnet.programs import eval_cli
  return cli.run(eval_cli.main, argv)


if __name__ == '__main__':
  sys.exit(main())
