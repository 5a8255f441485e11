#!/usr/bin/env python3
"""Train a ResNet on SIGNS-format data (see --help and README.md)."""

import os
import sys

if __name__ == '__main__':
  if '--verbose' in sys.argv:
    os.environ['LEGACY_RESNET_VERBOSE'] = '1'
  else:
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')  # read once, when TF is imported
  from legacy_resnet import cli, train_cli
  sys.exit(cli.run(train_cli.main, sys.argv[1:]))
