#!/usr/bin/env python3
"""Where the start-up of ``train_graph.py`` and of a one-image ``eval_graph.py``
prediction goes: runs the program's entry point in this process, printing to stderr
when each phase ended and how long it took.

    python -m bench.startup_phases [train_graph.py flags]
    python -m bench.startup_phases --predict [eval_graph.py flags]

Training defaults: --max_number_of_steps 1 and a temporary --train_dir, removed at the
end. The synthetic set's drawing runs in a background thread, so its line overlaps the
others.

``--predict`` times ``eval_graph.py --images`` in a fresh process. Without
``--checkpoint_path`` it first trains a one-step ``resnet_v1_50`` run, without
``--images`` it writes one synthetic 64x64 JPEG (both untimed, in a temporary folder),
and it ends with the time from launching that process to its printed answer.
"""

import functools
import os
import subprocess
import sys
import tempfile
import time

import program_environment

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


PREDICTION_CHILD = '--prediction_phases'  # The timed process of --predict.


def _prepare_prediction(argv, scratch):
  """``argv`` with a --checkpoint_path and an --images, made in ``scratch`` when
  missing."""
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  if '--checkpoint_path' not in argv:
    train_dir = os.path.join(scratch, 'run')
    subprocess.run([sys.executable, os.path.join(root, 'train_graph.py'), '--train_dir',
                    train_dir, '--max_number_of_steps', '1'], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    argv = argv + ['--checkpoint_path', train_dir]
  if '--images' not in argv:
    path = os.path.join(scratch, 'one.jpg')
    subprocess.run([sys.executable, '-c', (
        'import sys\n'
        'from legacy_resnet.data import synthetic_signs\n'
        'import tensorflow as tf\n'
        'images, _ = synthetic_signs.draw_images(1, seed=0, '
        'stream=synthetic_signs.TEST_STREAM)\n'
        'tf.io.write_file(sys.argv[1], tf.io.encode_jpeg(images[0]))'), path],
                   check=True, cwd=root, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3'))
    argv = argv + ['--images', path]
  return argv


def predict(argv):
  """Times a fresh ``eval_graph.py`` process (this module, phase by phase) from its
  launch to its printed answer."""
  with tempfile.TemporaryDirectory(prefix='startup-phases-') as scratch:
    argv = _prepare_prediction(argv, scratch)
    launched = time.time()
    child = subprocess.Popen([sys.executable, '-m', 'bench.startup_phases', PREDICTION_CHILD]
                             + argv, stdout=subprocess.PIPE, text=True,
                             env=dict(os.environ, PYTHONUNBUFFERED='1'))
    answered = None
    for line in child.stdout:
      if answered is None:
        answered = time.time() - launched
      sys.stdout.write(line)
    status = child.wait()
    if answered is not None:
      sys.stderr.write('%6.2f s  launch to printed answer (a fresh process)\n' % answered)
    return status


def prediction_phases(argv):
  """eval_graph.py's entry point in this process, each phase stamped."""
  program_environment.prepare(argv)  # as eval_graph.py does, before TensorFlow loads
  from legacy_resnet.core import cli
  from legacy_resnet.programs import eval_cli
  from legacy_resnet.evaluate import evaluation
  from legacy_resnet.graph import inference_graph
  from legacy_resnet.graph import model_graph
  _stamp('imports', time.time() - LAUNCHED)
  _timed(model_graph, 'build_classifier')
  _timed(evaluation.RestoredClassifier, '__init__')
  _timed(evaluation.RestoredClassifier, 'restore')
  _timed(inference_graph.FrozenOutput, '__init__')
  _timed(evaluation, 'predict')
  _timed(eval_cli, '_predict')
  return cli.run(eval_cli.main, argv)


def main(argv):
  if argv[:1] == ['--predict']:
    return predict(argv[1:])
  if argv[:1] == [PREDICTION_CHILD]:
    return prediction_phases(argv[1:])
  program_environment.prepare(argv)  # as train_graph.py does, before TensorFlow loads
  from legacy_resnet.checkpointing import checkpoints
  from legacy_resnet.core import cli
  from legacy_resnet.graph import model_graph
  from legacy_resnet.data import synthetic_signs
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
