#!/usr/bin/env python3
"""Where the start-up of ``train_graph.py`` goes: runs its entry point in this process
for one step, printing to stderr when each phase ended and how long it took.

    python -m bench.startup_phases [train_graph.py flags]

Defaults: --max_number_of_steps 1 and a temporary --train_dir, removed at the end.
The synthetic set's drawing runs in a background thread, so its line overlaps the
others.
"""

import functools
import os
import sys
import tempfile
import time

LAUNCHED = time.time()


def _stamp(phase, seconds):
  sys.stderr.write('%6.2f s  %-28s took %.2f s\n' % (time.time() - LAUNCHED, phase, seconds))
  sys.stderr.flush()


def _timed(owner, name):
  """Replaces ``owner.name`` by a function that stamps each call's end and duration."""
  function = getattr(owner, name)

  @functools.wraps(function)
  def wrapped(*args, **kwargs):
    start = time.time()
    result = function(*args, **kwargs)
    _stamp(name, time.time() - start)
    return result

  setattr(owner, name, wrapped)


def main(argv):
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
  from legacy_resnet.checkpointing import checkpoints
  from legacy_resnet.data import synthetic_signs
  from legacy_resnet.graph import model_graph
  from legacy_resnet.core import cli
  from legacy_resnet.programs import train_cli
  from legacy_resnet.train import training
  from legacy_resnet.train import training_loop
  _stamp('imports', time.time() - LAUNCHED)
  _timed(synthetic_signs, 'generate_split')
  _timed(model_graph, 'build_training')
  _timed(training.Trainer, '__init__')
  for method in ('restore_or_initialize', 'prepare_step', 'train_step'):
    _timed(training.Trainer, method)
  _timed(training_loop, 'summary_writer')
  _timed(checkpoints, 'write_metadata')
  if '--max_number_of_steps' not in argv:
    argv += ['--max_number_of_steps', '1']
  if '--train_dir' in argv:
    return cli.run(train_cli.main, argv)
  # A ResNet-50 run leaves about 550 MB of checkpoints: not kept.
  with tempfile.TemporaryDirectory(prefix='startup-phases-') as train_dir:
    return cli.run(train_cli.main, argv + ['--train_dir', train_dir])


if __name__ == '__main__':
  sys.exit(main(sys.argv[1:]))
