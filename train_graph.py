#!/usr/bin/env python3
"""Train a ResNet on SIGNS-format data (see --help and README.md)."""

import os
import sys

if __name__ == '__main__':
  if '--verbose' in sys.argv:
    os.environ['LEGACY_RESNET_VERBOSE'] = '1'
  else:
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')  # read once, when TF is imported
  if '--xla' in sys.argv:  # XLA on the CPU: read before the first session (compat.session_config)
    os.environ['TF_XLA_FLAGS'] = (os.environ.get('TF_XLA_FLAGS', '') +
                                  ' --tf_xla_cpu_global_jit').strip()
  from legacy_resnet import cli, train_cli
  sys.exit(cli.run(train_cli.main, sys.argv[1:]))
