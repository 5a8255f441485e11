#!/usr/bin/env python3
"""Evaluate, predict or extract dense features from a checkpoint (see --help and README.md)."""

import os
import sys

if __name__ == '__main__':
  if '--verbose' in sys.argv:
    os.environ['LEGACY_RESNET_VERBOSE'] = '1'
  else:
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')  # read once, when TF is imported
  from legacy_resnet import cli, eval_cli
  sys.exit(cli.run(eval_cli.main, sys.argv[1:]))
