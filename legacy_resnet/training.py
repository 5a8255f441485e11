"""The training loop: builds the graph, restores or initializes it, trains with an
evaluation on the held-out split (the validation split, or with none the test split)
after every epoch, keeps the latest and the best checkpoints, and reports on the test
split at the end."""

import collections
import os
import re
import time

import numpy as np
import tensorflow as tf

from legacy_resnet import batching
from legacy_resnet import checkpoints
from legacy_resnet import evaluation
from legacy_resnet import metrics
from legacy_resnet import model_graph
from legacy_resnet import preprocessing
from legacy_resnet import replication
from legacy_resnet import sessions
from legacy_resnet.errors import Stopped
from legacy_resnet.errors import UsageError
from legacy_resnet.errors import first_cause
from legacy_resnet.progress import ProgressBar
from legacy_resnet.stop_signals import StopRequests

CHECKPOINT_BASENAME = 'model.ckpt'
_MOVING_STATISTICS = re.compile(r'moving_(mean|variance)$')


def run_length(settings, num_train, batches_per_step=1):
  """(steps_per_epoch, total_steps) from the batch size and the epoch/step flags;
  ``batches_per_step`` batches of ``--batch_size`` make one step (synchronous
  replicas aggregate several)."""
  if settings.batch_size > num_train:
    raise UsageError('--batch_size %d is larger than the %d training images'
                     % (settings.batch_size, num_train))
  if settings.batch_size % settings.num_clones:
    raise UsageError('--batch_size %d does not split evenly over --num_clones %d'
                     % (settings.batch_size, settings.num_clones))
  per_epoch = batching.steps_per_epoch(num_train, settings.batch_size * batches_per_step)
  total = settings.max_number_of_steps or int(round(settings.num_epochs * per_epoch))
  return per_epoch, max(1, total)


def run_metadata(settings, data):
  """What a run records in its train dir (``checkpoints.write_metadata``) for
  ``eval_graph.py`` and for resuming: the model, classes, image size, moving-average
  decay and the data it trained on (a ``datasets.TrainingData``)."""
  metadata = {
      'model_name': settings.model_name,
      'class_names': data.class_names,
      'image_size': data.image_size,
      'moving_average_decay': settings.moving_average_decay,
      'dataset': data.description,
      'validation_split': settings.validation_split,
      'seed': settings.seed,
  }
  metadata.update(preprocessing.InputPipeline.from_settings(settings).metadata_entries())
  return metadata


def _carry_over_results(train_dir, resume_from, metadata):
  """On resume, keeps the best and the last held-out results of the earlier run; a
  train dir that holds another model or class list cannot be resumed."""
  if resume_from is None:
    return
  previous = checkpoints.read_metadata(resume_from)
  for key in ('model_name', 'class_names', 'image_size', 'moving_average_decay',
              preprocessing.InputPipeline.METADATA_KEY):
    if previous.get(key) != metadata.get(key):
      raise UsageError('--train_dir %s holds a run with %s=%r, not %r; use another '
                       '--train_dir' % (train_dir, key, previous.get(key), metadata.get(key)))
  if 'validation_split' in previous:  # Runs from before validation splits have none.
    for key in ('validation_split', 'seed'):
      if previous.get(key) != metadata[key]:
        raise UsageError('--train_dir %s holds a run with %s=%r, not %r: its best '
                         'checkpoint was chosen on another split; use another --train_dir'
                         % (train_dir, key, previous.get(key), metadata[key]))
  for key in ('best', 'last_eval', 'test'):
    if key in previous:
      metadata[key] = previous[key]


def resume_point(train_dir, metadata):
  """The checkpoint a (re)started run in ``train_dir`` goes on from (None: a new run),
  once what killed saves left is removed; the earlier run's results go into ``metadata``.
  """
  checkpoints.remove_interrupted_writes(train_dir)
  resume_from = checkpoints.newest_readable(train_dir)
  _carry_over_results(train_dir, resume_from, metadata)
  return resume_from


def check_loss(loss, step, train_dir):
  """Raises a UsageError when the loss of ``step`` is NaN or infinite."""
  if not np.isfinite(loss):
    raise UsageError('loss became %s at step %d; the last checkpoint in %s is kept '
                     '(try a lower --learning_rate)' % (loss, step, train_dir))


def all_finite(variables):
  """A bool tensor: no NaN or infinity in any floating-point variable.

  The values are checked laid end to end, which takes two graph ops per variable
  instead of four: for the ~600 variables of a ResNet-50 and its Adam slots, 0.2 s of
  start-up.
  """
  flat = tf.constant([-1])
  by_dtype = collections.defaultdict(list)
  for variable in variables:
    if variable.dtype.base_dtype.is_floating:
      by_dtype[variable.dtype.base_dtype].append(tf.reshape(variable, flat))
  return tf.reduce_all([tf.reduce_all(tf.math.is_finite(tf.concat(values, 0)))
                        for values in by_dtype.values()], name='all_finite')


def augmentation(settings):
  """The batching.Augmentation of the augmentation flags."""
  return batching.Augmentation(settings.random_shift, settings.horizontal_flip,
                               settings.random_brightness, settings.random_contrast)


def session_config(settings, num_cpu_devices=1):
  """The ConfigProto of the thread and XLA flags."""
  return sessions.session_config(settings.num_intra_threads, settings.num_inter_threads,
                               settings.xla, num_cpu_devices=num_cpu_devices)


class Trainer:
  """One training run in one process: its graph, session, savers and loop.

  ``train()`` is the usual way in; tools that want to watch or drive the steps use
  this class directly::

      trainer = Trainer(settings, data, metadata)
      with trainer.graph.as_default():
        report = trainer.run(on_step=lambda step, loss, accuracy: print(step, loss))
      trainer.close()

  Attributes:
    graph, session, session_config: the finalized training graph, its session and
      the ConfigProto the session was made with.
    tensors: model_graph.TrainingTensors of the graph.
    saver, best_saver: the Savers of the latest and the best checkpoints.
    steps_per_epoch, total_steps: the run's length.
    augmentation: the batching.Augmentation of the training batches.
  """

  def __init__(self, settings, data, metadata, resume_from=None):
    """Builds the graph and opens its session.

    Args:
      settings: the training flags (see ``train_graph.py``).
      data: a datasets.TrainingData.
      metadata: the run's metadata (``run_metadata``); updated as the run goes.
      resume_from: a checkpoint of this train dir to go on from (``resume_point``).
    """
    self.settings = settings
    self.resume_from = resume_from
    self.last_saved_step = None
    self.data = data
    self.metadata = metadata
    self._run_step = None  # from prepare_step()
    self.steps_per_epoch, self.total_steps = run_length(settings, data.num_train)
    self.augmentation = augmentation(settings)
    self.graph = tf.Graph()
    with self.graph.as_default():
      tf.compat.v1.set_random_seed(settings.seed)
      self.tensors = model_graph.build_training(
          settings, len(data.class_names), data.image_size,
          self.steps_per_epoch, self.total_steps, clones=replication.clones(
              settings.num_clones, settings.clone_on_cpu, len(sessions.gpus())))
      self.saved_variables = {v.op.name: v for v in tf.compat.v1.global_variables()}
      # Relative paths in the 'checkpoint' state files keep a train dir movable.
      self.saver = tf.compat.v1.train.Saver(self.saved_variables, save_relative_paths=True,
                                            max_to_keep=settings.max_to_keep)
      # The best checkpoint reuses the saver's ops; only how many files it keeps differs.
      best_saver_def = tf.compat.v1.train.SaverDef()
      best_saver_def.CopyFrom(self.saver.saver_def)
      best_saver_def.max_to_keep = 1
      self.best_saver = tf.compat.v1.train.Saver(saver_def=best_saver_def,
                                                 save_relative_paths=True)
      self.variables_finite = all_finite(self.saved_variables.values())
      # Checked after every step (a few thousand numbers): a NaN or infinite activation
      # lands in the batch-norm statistics even when the loss stays finite (seen with a
      # NaN image once batch norm was out of tf.cond, probably a fused ReLU's doing).
      with tf.control_dependencies([self.tensors.train_op]):
        self.statistics_finite = all_finite(
            [v for v in self.saved_variables.values() if _MOVING_STATISTICS.search(v.op.name)])
      self.warm_start = self._warm_start_saver()
    self.graph.finalize()  # Nothing may be added per step.
    self.session_config = session_config(
        settings, num_cpu_devices=settings.num_clones if settings.clone_on_cpu else 1)
    self.session = tf.compat.v1.Session(graph=self.graph, config=self.session_config)

  def _warm_start_saver(self):
    """(saver, prefix, report) for --checkpoint_path when train_dir has no checkpoint."""
    if not self.settings.checkpoint_path or self.resume_from:
      return None
    prefix = checkpoints.resolve(self.settings.checkpoint_path)
    saver, report = checkpoints.warm_start_saver(
        prefix, self.settings.checkpoint_exclude_scopes, self.settings.ignore_missing_vars)
    return saver, prefix, report

  def restore_or_initialize(self, log):
    """Resumes from train_dir's latest checkpoint, else initializes (and warm-starts)."""
    if self.resume_from:
      checkpoints.check_fits(self.resume_from, self.saved_variables)
      self.saver.restore(self.session, self.resume_from)
      checkpoints.recover_saver_list(self.saver, self.settings.train_dir, self.resume_from)
      log('resumed from %s' % self.resume_from)
      return
    self.session.run(self.tensors.initializer)
    if self.warm_start:
      saver, prefix, report = self.warm_start
      if saver:
        saver.restore(self.session, prefix)
      log('warm start from %s: %s' % (prefix, checkpoints.summarize(report)))

  def evaluate(self, split):
    """The evaluation tower's report on the Split ``split`` (moving averages when
    kept)."""
    model = self.tensors.model
    probabilities = evaluation.predict(self.session, model.eval_probabilities, model.images,
                                       split.images)
    return metrics.classification_report(split.labels, probabilities, split.class_names)

  def log_evaluation(self, name, report, step, writer):
    """Adds ``report`` on split ``name`` to TensorBoard (``name``/accuracy, /loss) and
    returns what the metadata records of it."""
    writer.add_summary(tf.compat.v1.Summary(value=[
        tf.compat.v1.Summary.Value(tag='%s/accuracy' % name, simple_value=report['accuracy']),
        tf.compat.v1.Summary.Value(tag='%s/loss' % name, simple_value=report['loss'])]), step)
    return {'accuracy': report['accuracy'], 'loss': report['loss'], 'global_step': step,
            'split': name}

  def _checked_save(self, saver, folder, step, **save_args):
    """Saves a checkpoint of finite variables, or raises a UsageError saying why not."""
    if not self.session.run(self.variables_finite):
      raise UsageError('variables became NaN or infinite by step %d; not saved, the last '
                       'checkpoint in %s is kept (try a lower --learning_rate)'
                       % (step, self.settings.train_dir))
    try:
      return saver.save(self.session, os.path.join(folder, CHECKPOINT_BASENAME),
                        global_step=step, **save_args)
    except (tf.errors.OpError, OSError) as error:
      raise UsageError('--train_dir %s: cannot save a checkpoint: %s'
                       % (self.settings.train_dir, first_cause(error))) from None

  def save(self, step):
    prefix = self._checked_save(self.saver, self.settings.train_dir, step)
    self.last_saved_step = step
    return prefix

  def end_of_epoch(self, step, writer, log):
    """Evaluates, logs, saves the latest checkpoint and, when better, the best one."""
    name = self.data.held_out_name
    report = self.evaluate(self.data.held_out)
    epoch = (step - 1) // self.steps_per_epoch + 1
    log('epoch %d step %d: %s accuracy %.4f loss %.4f'
        % (epoch, step, name, report['accuracy'], report['loss']))
    recorded = self.log_evaluation(name, report, step, writer)
    self.save(step)
    best = self.metadata.get('best')
    if best is None or report['accuracy'] > best['accuracy']:
      prefix = self._checked_save(
          self.best_saver, os.path.join(self.settings.train_dir, checkpoints.BEST_SUBDIR),
          step, latest_filename='checkpoint')
      self.metadata['best'] = dict(recorded, checkpoint=os.path.relpath(
          prefix, self.settings.train_dir))
    self.metadata['last_eval'] = recorded
    checkpoints.write_metadata(self.settings.train_dir, self.metadata)
    return report

  def stop(self, step, stop_requests):
    """Saves unsaved steps and raises Stopped, for a SIGINT or SIGTERM."""
    saved = ''
    if step != self.last_saved_step:
      saved = '; saved %s' % os.path.basename(self.save(step))
      checkpoints.write_metadata(self.settings.train_dir, self.metadata)
    raise Stopped('stopped by %s at step %d%s; run the same command again to resume'
                  % (stop_requests.signal_name, step, saved), stop_requests.exit_status)

  def prepare_step(self):
    """Prepares the session's training step (see ``sessions.prepared_run``): it runs the
    train op and returns the loss, accuracy, whether the batch-norm statistics are
    finite, and the summaries."""
    model = self.tensors.model
    run = sessions.prepared_run(
        self.session, list(model_graph.training_feed(model, None, None)),
        [self.tensors.loss, self.tensors.accuracy, self.statistics_finite,
         self.tensors.summary_op],
        [self.tensors.train_op])
    # The same feed function gives the values, in the order of its placeholders above.
    self._run_step = lambda images, labels: run(
        *model_graph.training_feed(model, images, labels).values())

  def batch(self, step):
    """(images, labels) of training step ``step`` (see ``batching.training_batch``)."""
    return batching.training_batch(self.data.train, self.settings.batch_size,
                                   self.settings.seed, step, self.augmentation)

  def train_step(self, step):
    """Runs the training step ``step`` on its batch; returns (loss, accuracy, summary),
    the loss NaN when the batch-norm statistics became non-finite (the loss of such a
    network is NaN even when the loss tensor came out finite)."""
    images, labels = self.batch(step)
    loss, accuracy, statistics_finite, summary = self._run_step(images, labels)
    return (loss if statistics_finite else float('nan')), accuracy, summary

  def run(self, stop_requests=None, on_step=None):
    """Trains to ``total_steps``, then reports on the test split (read only then);
    returns that report (None if no step ran).

    Args:
      stop_requests: a StopRequests whose signal stops the run (saved, then Stopped).
      on_step: called as ``on_step(step, loss, accuracy)`` after every step.
    """
    settings, tensors = self.settings, self.tensors
    bar = ProgressBar(self.total_steps, self.steps_per_epoch, settings.batch_size)
    # Both calls below leave the interpreter free: the synthetic set is drawn meanwhile.
    self.data.prefetch()
    self.restore_or_initialize(bar.message)
    step = self.last_saved_step = int(self.session.run(tensors.global_step))
    if step < self.total_steps:
      self.prepare_step()
    checkpoints.write_metadata(settings.train_dir, self.metadata)
    writer = _summary_writer(settings.train_dir, self.graph)
    report = None
    last_save = time.monotonic()
    while step < self.total_steps:
      if stop_requests and stop_requests.signal_name:
        self.stop(step, stop_requests)
      loss, accuracy, summary = self.train_step(step)
      step += 1
      if on_step:
        on_step(step, loss, accuracy)
      check_loss(loss, step, settings.train_dir)
      bar.update(step, loss, accuracy)
      if step % settings.log_every_n_steps == 0:
        writer.add_summary(summary, step)
      if step % self.steps_per_epoch == 0 or step == self.total_steps:
        report = self.end_of_epoch(step, writer, bar.message)
        bar.restart_clock()
        last_save = time.monotonic()
      elif ((settings.save_every_n_steps and step % settings.save_every_n_steps == 0) or
            time.monotonic() - last_save >= settings.save_interval_secs):
        self.save(step)
        last_save = time.monotonic()
    if report is not None and self.data.held_out_name == 'test':
      self.metadata['test'] = self.metadata['last_eval']
      checkpoints.write_metadata(settings.train_dir, self.metadata)
    elif report is not None:
      report = self.final_test_report(step, writer, bar.message)
    writer.close()
    return report

  def final_test_report(self, step, writer, log):
    """Evaluates the final weights on the test split, read now for the first time, and
    records the report as 'test'."""
    report = self.evaluate(self.data.test)
    log('step %d: test accuracy %.4f loss %.4f' % (step, report['accuracy'], report['loss']))
    self.metadata['test'] = self.log_evaluation('test', report, step, writer)
    checkpoints.write_metadata(self.settings.train_dir, self.metadata)
    return report

  def close(self):
    self.session.close()


def _summary_writer(train_dir, graph):
  try:
    return tf.compat.v1.summary.FileWriter(train_dir, graph)
  except (tf.errors.OpError, OSError) as error:
    raise UsageError('--train_dir %s: cannot write summaries: %s'
                     % (train_dir, first_cause(error))) from None


def train(settings, data, metadata, on_step=None):
  """Runs one training job to completion (or resumes it from the newest readable
  checkpoint); returns the final test report, or None when the train dir had
  already reached the final step.

  A SIGINT or SIGTERM saves and raises Stopped; a damaged newest checkpoint is
  skipped with a warning.
  """
  with StopRequests() as stop_requests:
    resume_from = resume_point(settings.train_dir, metadata)
    trainer = Trainer(settings, data, metadata, resume_from)
    try:
      with trainer.graph.as_default():  # Savers and writers act on the default graph.
        return trainer.run(stop_requests, on_step)
    finally:
      trainer.close()
