"""An evaluator following a training run (``eval_graph.py --watch``) into ``<train_dir>/eval``: TensorBoard
events under the trainer's own held-out tags, and ``evaluated.json``, written before each checkpoint's events
so that a restarted evaluator never evaluates a checkpoint twice."""

import functools
import json
import os
import time

import tensorflow as tf

from legacy_resnet.checkpointing import checkpoints
from legacy_resnet.evaluate import evaluation
from legacy_resnet.core import atomic_files
from legacy_resnet.core.errors import UsageError
from legacy_resnet.core.errors import first_cause

EVAL_SUBDIR = 'eval'
EVALUATED_FILE = 'evaluated.json'
POLL_SECS = 1.0
_print_now = functools.partial(print, flush=True)


def _read_evaluated(path):
  """The entries of ``evaluated.json`` ([] when there is none yet)."""
  if not os.path.exists(path):
    return []
  try:
    with open(path, encoding='utf-8') as stream:
      entries = json.load(stream).get('evaluated')
    valid = isinstance(entries, list) and all(
        isinstance(entry, dict) and isinstance(entry.get('checkpoint'), str) for entry in entries)
    problem = None if valid else 'not a list of evaluated checkpoints'
  except (OSError, ValueError, AttributeError) as error:
    problem = 'unreadable: %s' % error
  if problem:
    raise UsageError('%s: %s; delete it to evaluate every checkpoint again' % (path, problem))
  return entries


class Follower:
  """Evaluates the checkpoints of ``train_dir`` (its trainer maybe not started yet) as they
  come. ``load_split(metadata)`` returns ('validation' or 'test', the labelled split); the
  latest report goes as JSON to ``report_path`` (None: nowhere); ``log`` prints a line."""

  def __init__(self, train_dir, load_split, report_path=None, log=_print_now):
    self.train_dir, self.load_split, self.report_path, self.log = (
        train_dir, load_split, report_path, log)
    self.eval_dir = os.path.join(train_dir, EVAL_SUBDIR)
    try:
      os.makedirs(self.eval_dir, exist_ok=True)
    except OSError as error:
      raise UsageError('%s: %s' % (self.eval_dir, error.strerror)) from None
    self.evaluated_path = os.path.join(self.eval_dir, EVALUATED_FILE)
    self.evaluated = _read_evaluated(self.evaluated_path)
    self._split = self._classifier = self._writer = None

  def _restore(self, prefix):
    """Restores ``prefix``; False when its trainer deleted it first."""
    try:
      if self._classifier is None:
        self._classifier = evaluation.RestoredClassifier(prefix)
      else:
        self._classifier.restore(prefix)
    except (UsageError, tf.errors.OpError):
      if os.path.exists(prefix + '.index'):
        raise
      return False
    return True

  def evaluate(self, prefix, metadata):
    """Evaluates and records checkpoint ``prefix``, unless its trainer deleted it first."""
    name = os.path.basename(prefix)
    if not self._restore(prefix):
      self.log('%s was deleted by its trainer before it could be evaluated' % name)
      return
    if self._split is None:
      self._split = self.load_split(metadata)
      try:
        with tf.Graph().as_default():  # A FileWriter refuses eager mode.
          self._writer = tf.compat.v1.summary.FileWriter(self.eval_dir)
      except (tf.errors.OpError, OSError) as error:
        raise UsageError('%s: cannot write summaries: %s' % (self.eval_dir, first_cause(error))) from None
    split_name, split = self._split
    report = evaluation.evaluate(self._classifier, split)
    step = self._classifier.global_step
    self.evaluated.append(dict(checkpoint=name, global_step=step, split=split_name,
                               accuracy=report['accuracy'], loss=report['loss']))
    atomic_files.write_json(self.evaluated_path, {'evaluated': self.evaluated})
    evaluation.record(self._writer, split_name, report, step)
    self._writer.flush()
    if self.report_path:
      atomic_files.write_json(self.report_path, report)
    self.log('%s (global step %d): %s accuracy %.4f loss %.4f'
             % (name, step, split_name, report['accuracy'], report['loss']))

  def follow(self, timeout, poll=POLL_SECS):
    """Evaluates the checkpoints not evaluated yet, oldest first, until the run has ended
    or ``timeout`` seconds (0: no limit) passed without one; returns how many."""
    count = 0
    waiting_since = time.monotonic()
    try:
      while True:
        # Read before the listing: a run that has ended has saved its last checkpoint.
        metadata, pending = None, []
        if os.path.exists(os.path.join(self.train_dir, checkpoints.METADATA_FILE)):
          metadata = checkpoints.read_metadata(self.train_dir)
          done = {entry['checkpoint'] for entry in self.evaluated}
          # Quiet: between a first save and its state file, the files are the list.
          listed = checkpoints.listed_checkpoints(self.train_dir, warn=lambda _: None)
          pending = [prefix for prefix in listed if os.path.basename(prefix) not in done]
        for prefix in pending:
          self.evaluate(prefix, metadata)
          count += 1
        if pending:
          waiting_since = time.monotonic()
        elif metadata is not None and 'ended' in metadata:
          self.log('%s: training ended at global step %d; %d checkpoints evaluated'
                   % (self.train_dir, metadata['ended']['global_step'], count))
          return count
        elif timeout and time.monotonic() - waiting_since >= timeout:
          self.log('%s: no new checkpoint for %g seconds; stopping (%d evaluated)'
                   % (self.train_dir, timeout, count))
          return count
        time.sleep(poll)
    finally:
      if self._classifier is not None:
        self._classifier.close()
      if self._writer is not None:
        self._writer.close()
