#!/usr/bin/env python3
"""Evaluate, predict or extract dense features from a checkpoint (see --help and README.md).

Installed as the ``legacy-resnet-eval`` command."""

import sys

import program_environment


def main(argv=None):
  argv = sys.argv[1:] if argv is None else argv
  program_environment.prepare(argv)
  from legacy_resnet.core import cli
  from legacy_resnet.programs import eval_cli
  return cli.run(eval_cli.main, argv)


if __name__ == '__main__':
  sys.exit(main())
