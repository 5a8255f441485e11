"""What happens around each training step, alike in a one-process run and on every worker
of a cluster: loss checks, progress and, on the chief, summaries, checkpoints, evaluations."""

import collections
import os
import re
import shutil
import sys
import time

import numpy as np
import tensorflow as tf

from legacy_resnet.checkpointing import checkpoints
from legacy_resnet.evaluate import evaluation
from legacy_resnet.evaluate import calibration
from legacy_resnet.graph import metrics
from legacy_resnet.core.errors import SettingError
from legacy_resnet.core.errors import first_cause

CHECKPOINT_BASENAME = 'model.ckpt'
_MOVING_STATISTICS = re.compile(r'moving_(mean|variance)$')


def all_finite(variables):
  """A bool tensor: no NaN or infinity in any floating-point variable. The values are
  checked laid end to end: two graph ops per variable instead of four (start-up time)."""
  flat = tf.constant([-1])
  by_dtype = collections.defaultdict(list)
  for variable in variables:
    if variable.dtype.base_dtype.is_floating:
      by_dtype[variable.dtype.base_dtype].append(tf.reshape(variable, flat))
  return tf.reduce_all([tf.reduce_all(tf.math.is_finite(tf.concat(values, 0)))
                        for values in by_dtype.values()], name='all_finite')


def statistics_finite_after(train_op, variables):
  """A bool tensor, read after ``train_op``: the batch-norm moving statistics among
  ``variables`` are finite. A NaN activation lands there even when the loss stays
  finite (seen with a NaN image, probably a fused ReLU's doing)."""
  with tf.control_dependencies([train_op]):
    return all_finite([v for v in variables if _MOVING_STATISTICS.search(v.op.name)])


class Checkpointer:
  """The latest checkpoints (``saver``) and the best one (``best_saver``) of a train dir,
  written only when every variable is finite; built in the current graph."""

  def __init__(self, variables, train_dir, max_to_keep):
    """``variables``: {checkpoint name: variable} of everything a checkpoint holds."""
    self.train_dir = train_dir
    self.last_saved_step = None
    # Relative paths in the 'checkpoint' state files keep a train dir movable.
    self.saver = tf.compat.v1.train.Saver(variables, save_relative_paths=True,
                                          max_to_keep=max_to_keep)
    # The best checkpoint reuses the saver's ops; only how many files it keeps differs.
    best_saver_def = tf.compat.v1.train.SaverDef()
    best_saver_def.CopyFrom(self.saver.saver_def)
    best_saver_def.max_to_keep = 1
    self.best_saver = tf.compat.v1.train.Saver(saver_def=best_saver_def,
                                               save_relative_paths=True)
    self.variables_finite = all_finite(variables.values())
    # The data file's size; the index and graph files beside it are a few percent more.
    self.checkpoint_bytes = sum(v.shape.num_elements() * v.dtype.base_dtype.size
                                for v in variables.values())
    self.max_to_keep = max_to_keep

  def _space(self):
    return 'a checkpoint needs %s, %s are free' % (
        _megabytes(self.checkpoint_bytes), _megabytes(shutil.disk_usage(self.train_dir).free))

  def warn_if_short_of_space(self):
    """Warns when the train dir's filesystem lacks the space of the checkpoints to come."""
    needed = (self.max_to_keep + 2) * self.checkpoint_bytes - checkpoints.bytes_held(
        self.train_dir)
    if shutil.disk_usage(self.train_dir).free < needed:
      sys.stderr.write('warning: %s may run out of space: the %d latest checkpoints kept, '
                       'the one being saved and best/ need %s more; %s\n'
                       % (self.train_dir, self.max_to_keep, _megabytes(needed),
                          self._space()))

  def save(self, session, step, best=False):
    """Saves the variables of ``session`` as of ``step`` (into best/ with ``best``);
    returns the checkpoint's prefix. A SettingError when a variable is NaN or infinite
    (nothing is written) or the train dir cannot be written."""
    if not session.run(self.variables_finite):
      raise SettingError('variables became NaN or infinite by step %d; not saved, the last '
                         'checkpoint in %s is kept (try a lower {learning_rate})',
                         step, self.train_dir)
    saver, folder, args = self.saver, self.train_dir, {}
    if best:
      saver, folder = self.best_saver, os.path.join(self.train_dir, checkpoints.BEST_SUBDIR)
      args = {'latest_filename': 'checkpoint'}
    try:
      prefix = saver.save(session, os.path.join(folder, CHECKPOINT_BASENAME),
                          global_step=step, **args)
    except (tf.errors.OpError, OSError) as error:
      # Partial files go (a full disk heals once space is freed); the state file still
      # names the last complete checkpoint, as the saver updates it only after a save.
      removed = checkpoints.remove_failed_save(folder, os.path.join(
          folder, '%s-%d' % (CHECKPOINT_BASENAME, step)))
      kept = checkpoints.listed_checkpoints(folder, warn=lambda _: None)
      raise SettingError('{train_dir} %s: cannot save a checkpoint: %s (%s); %d partial '
                         'files removed, %s', self.train_dir, first_cause(error),
                         self._space(), removed,
                         '%s stays the latest' % os.path.basename(kept[-1]) if kept
                         else 'no checkpoint was saved before') from None
    if not best:
      self.last_saved_step = step
    return prefix


def _megabytes(count):
  return '%.1f MB' % (count / 1e6)


def summary_writer(train_dir, graph):
  """A FileWriter into ``train_dir`` that starts with ``graph``."""
  try:
    return tf.compat.v1.summary.FileWriter(train_dir, graph)
  except (tf.errors.OpError, OSError) as error:
    raise SettingError('{train_dir} %s: cannot write summaries: %s',
                       train_dir, first_cause(error)) from None


class Chief:
  """What the chief of a run does besides its steps: summaries, checkpoints, evaluations,
  best/ and the metadata. ``session``: a function returning the tf.Session."""

  def __init__(self, session, checkpointer, model, data, metadata, writer, log):
    self.session = session
    self.checkpointer = checkpointer
    self.train_dir = checkpointer.train_dir
    self.model = model
    self.data = data
    self.metadata = metadata
    self.writer = writer
    self.log = log
    self.last_probabilities = None  # of the last ``evaluate``, for the calibration

  def evaluate(self, split):
    """The evaluation tower's report on the Split ``split``."""
    self.last_probabilities = evaluation.predict(
        self.session(), self.model.eval_probabilities, self.model.images, split.images)
    return metrics.classification_report(split.labels, self.last_probabilities,
                                         split.class_names)

  def save(self, step):
    """Saves the latest checkpoint of ``step``; returns its prefix."""
    return self.checkpointer.save(self.session(), step)

  def end_of_epoch(self, step, epoch):
    """Evaluates on the held-out split, saves (into best/ too when better); returns that."""
    name = self.data.held_out_name
    report = self.evaluate(self.data.held_out)
    self.log('epoch %d step %d: %s accuracy %.4f loss %.4f'
             % (epoch, step, name, report['accuracy'], report['loss']))
    recorded = evaluation.record(self.writer, name, report, step)
    self.save(step)
    best = self.metadata.get('best')
    if best is None or report['accuracy'] > best['accuracy']:
      prefix = self.checkpointer.save(self.session(), step, best=True)
      self.metadata['best'] = dict(recorded, checkpoint=os.path.relpath(prefix, self.train_dir))
    self.metadata['last_eval'] = recorded
    checkpoints.write_metadata(self.train_dir, self.metadata)
    return report

  def final_report(self, step, held_out_report):
    """The run's test report (``held_out_report`` when the test split is the held-out
    one), recorded as 'test'; with a validation split, also its calibration."""
    if self.data.held_out_name == 'validation':
      self.metadata[calibration.METADATA_KEY] = calibration.fit(
          self.last_probabilities, self.data.held_out.labels)
      self.log(calibration.describe(self.metadata[calibration.METADATA_KEY]))
    if self.data.held_out_name == 'test':
      report = held_out_report
      self.metadata['test'] = self.metadata['last_eval']
    else:
      report = self.evaluate(self.data.test)
      self.log('step %d: test accuracy %.4f loss %.4f'
               % (step, report['accuracy'], report['loss']))
      self.metadata['test'] = evaluation.record(self.writer, 'test', report, step)
    checkpoints.write_metadata(self.train_dir, self.metadata)
    return report


def _crossed(previous, step, every):
  """Whether a multiple of ``every`` lies in (previous, step]; a step that jumps
  (asynchronous cluster workers) still crosses it."""
  return bool(every) and step // every > previous // every


class StepLoop:
  """The bookkeeping after each training step; ``chief`` is None on the other workers
  of a cluster, ``on_step(step, loss, accuracy)`` is called after every step."""

  def __init__(self, cadence, bar, train_dir, chief=None, on_step=None):
    self.cadence = cadence
    self.bar = bar
    self.train_dir = train_dir
    self.chief = chief
    self.on_step = on_step
    self._last_save = time.monotonic()

  def summary_due(self, previous):
    """Whether the step after ``previous`` should fetch the summaries."""
    return bool(self.chief) and _crossed(previous, previous + 1, self.cadence.log_every_n_steps)

  def after_step(self, previous, step, loss, accuracy, statistics_finite, summary=None):
    """Handles the step that took the global step from ``previous`` to ``step``; returns
    the held-out report when an epoch ended there. A SettingError for a NaN or infinite
    loss (or statistics: the loss is NaN from then on), or variable when saving."""
    if not statistics_finite:
      loss = float('nan')
    if self.on_step:
      self.on_step(step, loss, accuracy)
    if not np.isfinite(loss):
      raise SettingError('loss became %s at step %d; the last checkpoint in %s is kept '
                         '(try a lower {learning_rate})', loss, step, self.train_dir)
    self.bar.update(step, loss, accuracy)
    if not self.chief:
      return None
    cadence = self.cadence
    if summary is not None and _crossed(previous, step, cadence.log_every_n_steps):
      self.chief.writer.add_summary(summary, step)
    report = None
    if _crossed(previous, step, cadence.steps_per_epoch) or step >= cadence.total_steps:
      report = self.chief.end_of_epoch(step, (step - 1) // cadence.steps_per_epoch + 1)
      self.bar.restart_clock()
    elif (_crossed(previous, step, cadence.save_every_n_steps) or
          time.monotonic() - self._last_save >= cadence.save_interval_secs):
      self.chief.save(step)
    else:
      return None
    self._last_save = time.monotonic()
    return report
