"""Flags and entry point of ``train_graph.py``: a flag per declared setting
(``settings.declaration``), plus the flags that act on the command line itself."""

import contextlib
import os

from legacy_resnet.checkpointing import train_dir_lock
from legacy_resnet.data import datasets
from legacy_resnet.graph import precision
from legacy_resnet.core import cli
from legacy_resnet.core.errors import UsageError
from legacy_resnet.scale_out import cluster
from legacy_resnet.scale_out import distributed
from legacy_resnet.settings import derived
from legacy_resnet.settings import train_settings
from legacy_resnet.train import training
from legacy_resnet.train import training_curves

def parser():
  p = cli.ArgumentParser(prog='train_graph.py',
                         description='Train a ResNet on SIGNS-format data with a tf.compat.v1 graph.')
  train_settings.add_flags(p)
  p.add_argument('--verbose', action='store_true', help='show TensorFlow warnings')
  return p


def settings_of(argv):
  """The TrainSettings of the command line ``argv``."""
  return train_settings.from_flags(parser().parse_args(argv))


def main(argv, on_step=None):
  """Runs train_graph.py with the flags ``argv``; a one-process run calls
  ``on_step(step, loss, accuracy)`` after every step (see ``training.Trainer.run``)."""
  settings = settings_of(argv)
  precision.check(settings.run.precision)
  task = cluster.from_settings(settings, os.environ)
  if task and task.job_name == cluster.PS:
    distributed.run_ps(settings, task)  # Needs neither data nor a train dir.
    return
  data = datasets.training_data(settings.data.dataset_dir, settings.data.validation_split, settings.data.seed)
  if not settings.data.validation_split:
    print('--validation_split 0: per-epoch evaluation and best/ use the test split')
  train_dir = settings.run.train_dir
  try:
    os.makedirs(train_dir, exist_ok=True)
  except OSError as error:
    raise UsageError('--train_dir %s: %s' % (train_dir, error.strerror)) from None
  metadata = training.run_metadata(settings, data)
  chief = not task or cluster.is_chief(task)
  # The chief is the train dir's one writer; other workers write nothing there.
  with train_dir_lock.held(train_dir) if chief else contextlib.nullcontext():
    replicas = distributed.replicas_per_step(settings, task) if task else 1
    steps_per_epoch = derived.run_length(settings, data.num_train, replicas)[0]
    with training_curves.written_at_end(train_dir, steps_per_epoch, chief):
      # The test report; None when there was nothing to do, or on a worker not the chief.
      report = (distributed.run_worker(settings, task, data, metadata) if task
                else training.train(settings, data, metadata, on_step))
  if report is None:
    if chief:
      print('%s has already reached the final step; nothing to do' % train_dir)
  else:
    print('final test accuracy %.4f (%d images); checkpoints in %s'
          % (report['accuracy'], report['num_examples'], train_dir))
