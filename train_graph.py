#!/usr/bin/env python3
"""Train a ResNet on SIGNS-format data (see --help and README.md).

Installed as the ``legacy-resnet-train`` command."""

import sys

import program_environment


def main(argv=None):
  argv = sys.argv[1:] if argv is None else argv
  program_environment.prepare(argv)
  from legacy_resnet.core import cli
  from legacy_resnet.programs import train_cli
  return cli.run(train_cli.main, argv)


if __name__ == '__main__':
  sys.exit(main())
