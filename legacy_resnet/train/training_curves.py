"""curves.png of a train dir: loss and accuracy per epoch, read back from the run's
TensorBoard event files and its metadata's last held-out result."""

import contextlib
import glob
import os
import re
import sys

import numpy as np
import tensorflow as tf

from legacy_resnet.checkpointing import checkpoints
from legacy_resnet.evaluate import plots
from legacy_resnet.core.errors import Stopped
from legacy_resnet.core.errors import UsageError

CURVES_FILE = 'curves.png'
# TensorFlow names a summary 'loss_1' when an op is already called 'loss'.
_UNIQUE_SUFFIX = re.compile(r'_\d+$')
# Event tag -> curve label. Runs from before the validation split logged their per-epoch
# evaluation (on the test file) as eval/.
_SERIES = {'loss': 'training loss', 'accuracy': 'training accuracy',
           'validation/loss': 'validation loss', 'validation/accuracy': 'validation accuracy',
           'test/loss': 'test loss', 'test/accuracy': 'test accuracy',
           'eval/loss': 'held-out loss', 'eval/accuracy': 'held-out accuracy'}


def read_scalars(train_dir):
  """{tag: {step: value}} of the scalar summaries in ``train_dir``'s event files, tags
  without TensorFlow's uniqueness suffix (a later file wins for a step logged twice)."""
  scalars = {}
  for path in sorted(glob.glob(os.path.join(train_dir, 'events.out.tfevents.*')),
                     key=os.path.getmtime):
    try:
      for event in tf.compat.v1.train.summary_iterator(path):
        for value in event.summary.value:
          if value.WhichOneof('value') == 'simple_value':
            tag = _UNIQUE_SUFFIX.sub('', value.tag)
            scalars.setdefault(tag, {})[event.step] = value.simple_value
    except tf.errors.DataLossError:
      continue  # The end of a file cut off by a kill; what came before it was read.
  return scalars


def per_epoch(scalars, steps_per_epoch, results=()):
  """(epochs float [E], {label: float [E]}): each epoch's mean of every series (NaN where
  none). ``results``: the metadata's records of evaluations the events may lack."""
  scalars = {tag: dict(values) for tag, values in scalars.items()}
  for result in results:
    for key in ('accuracy', 'loss'):
      scalars.setdefault('%s/%s' % (result.get('split', 'eval'), key), {}).setdefault(
          result['global_step'], result[key])
  steps = [step for values in scalars.values() for step in values]
  if not steps:
    return np.zeros(0), {}
  count = int(np.ceil(max(steps) / steps_per_epoch))
  series = {}
  for tag, label in _SERIES.items():
    if tag in scalars:
      logged = np.array(list(scalars[tag]), dtype=float)
      epochs = np.maximum(0, np.ceil(logged / steps_per_epoch).astype(int) - 1)
      with np.errstate(invalid='ignore'):
        series[label] = (np.bincount(epochs, list(scalars[tag].values()), count)
                         / np.bincount(epochs, minlength=count))
  return np.arange(1, count + 1, dtype=float), series


def write(train_dir, steps_per_epoch):
  """Writes ``train_dir``/curves.png and says so, or why not (no error: the run went well)."""
  if not plots.available():
    print('note: no %s: matplotlib is not installed (%s)' % (CURVES_FILE, plots.INSTALL_HINT))
    return None
  try:
    metadata = checkpoints.read_metadata(os.path.join(train_dir, checkpoints.METADATA_FILE))
  except UsageError:
    metadata = {}
  results = [metadata[key] for key in ('last_eval', 'test') if metadata.get(key)]
  epochs, series = per_epoch(read_scalars(train_dir), steps_per_epoch, results)
  if not len(epochs):
    return None
  path = os.path.join(train_dir, CURVES_FILE)
  try:
    plots.training_curves(path, epochs, series, os.path.basename(os.path.abspath(train_dir)))
  except UsageError as error:
    sys.stderr.write('warning: %s\n' % error)
    return None
  print('wrote %s' % path)
  return path


@contextlib.contextmanager
def written_at_end(train_dir, steps_per_epoch, chief=True):
  """On the ``chief``, writes the curves when the block ends or a signal stops it."""
  try:
    yield
  except (Stopped, KeyboardInterrupt):
    if chief:
      write(train_dir, steps_per_epoch)
    raise
  if chief:
    write(train_dir, steps_per_epoch)
