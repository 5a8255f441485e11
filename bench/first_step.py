#!/usr/bin/env python3
"""``train_graph.py`` that also appends the wall-clock time of its first finished step
to a file: the benchmark's start-up measurement.

Usage, from the repository root: python -m bench.first_step MARKER_FILE [train_graph.py flags...]
"""

import sys
import time

import program_environment


def main(argv):
  marker, train_flags = argv[0], argv[1:]
  program_environment.prepare(train_flags)  # As train_graph.py does, before TF loads.
  from legacy_resnet.core import cli
  from legacy_resnet.programs import train_cli  # pylint: disable=import-outside-toplevel
  marked = []

  def on_step(step, loss, accuracy):
    del step, loss, accuracy
    if not marked:
      marked.append(time.time())
      with open(marker, 'a', encoding='utf-8') as stream:
        stream.write('%.6f\n' % marked[0])

  return cli.run(lambda flags: train_cli.main(flags, on_step=on_step), train_flags)


if __name__ == '__main__':
  sys.exit(main(sys.argv[1:]))
