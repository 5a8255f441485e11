"""One-process training: builds the graph, restores or initializes it, trains with an
evaluation on the held-out split (the validation split, or with none the test split)
after every epoch, keeps the latest and the best checkpoints, and reports on the test
split at the end. What happens around each step is ``training_loop``'s, shared with
cluster workers."""

import os

import tensorflow as tf

from legacy_resnet.checkpointing import checkpoints
from legacy_resnet.data import batching
from legacy_resnet.data import preprocessing
from legacy_resnet.graph import model_graph
from legacy_resnet.graph import precision
from legacy_resnet.graph import replication
from legacy_resnet.core import sessions
from legacy_resnet.core.errors import SettingError
from legacy_resnet.core.errors import Stopped
from legacy_resnet.core.stop_signals import StopRequests
from legacy_resnet.settings import derived
from legacy_resnet.train import training_loop
from legacy_resnet.train.progress import ProgressBar


def run_metadata(settings, data):
  """What a run records in its train dir (``checkpoints.write_metadata``) for
  ``eval_graph.py`` and for resuming: the model, classes, image size, moving-average
  decay and the data it trained on (a ``datasets.TrainingData``)."""
  metadata = {
      'model_name': settings.model.model_name,
      'class_names': data.class_names,
      'image_size': data.image_size,
      'moving_average_decay': settings.model.moving_average_decay,
      'dataset': data.description,
      'validation_split': settings.data.validation_split,
      'seed': settings.data.seed,
  }
  metadata.update(preprocessing.InputPipeline.from_settings(settings.input).metadata_entries())
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
      raise SettingError('{train_dir} %s holds a run with %s=%r, not %r; use another '
                         '{train_dir}', train_dir, key, previous.get(key), metadata.get(key))
  if 'validation_split' in previous:  # Runs from before validation splits have none.
    for key in ('validation_split', 'seed'):
      if previous.get(key) != metadata[key]:
        raise SettingError('{train_dir} %s holds a run with %s=%r, not %r: its best '
                           'checkpoint was chosen on another split; use another {train_dir}',
                           train_dir, key, previous.get(key), metadata[key])
  for key in ('best', 'last_eval', 'test', 'calibration'):
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


class Trainer:
  """One training run in one process: its graph, session, checkpoints and loop.

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
    checkpointer: the training_loop.Checkpointer of the latest and best checkpoints.
    steps_per_epoch, total_steps: the run's length.
    augmentation: the batching.Augmentation of the training batches.
  """

  def __init__(self, settings, data, metadata, resume_from=None):
    """Builds the graph and opens its session.

    Args:
      settings: a settings.TrainSettings.
      data: a datasets.TrainingData.
      metadata: the run's metadata (``run_metadata``); updated as the run goes.
      resume_from: a checkpoint of this train dir to go on from (``resume_point``).
    """
    self.settings = settings
    self.resume_from = resume_from
    self.data = data
    self.metadata = metadata
    self._run_step = None  # from prepare_step()
    self.steps_per_epoch, self.total_steps = derived.run_length(settings, data.num_train)
    self.augmentation = derived.augmentation(settings.input)
    run = settings.run
    self.graph = tf.Graph()
    with self.graph.as_default():
      tf.compat.v1.set_random_seed(settings.data.seed)
      self.tensors = model_graph.build_training(
          settings, len(data.class_names), data.image_size,
          self.steps_per_epoch, self.total_steps, clones=replication.clones(
              run.num_clones, run.clone_on_cpu, len(sessions.gpus())),
          wrap_optimizer=precision.wrap_optimizer(run.precision))
      self.saved_variables = precision.model_state(
          {v.op.name: v for v in tf.compat.v1.global_variables()})
      # State outside checkpoints (float16's loss scale) starts anew on resume.
      unsaved = [v for v in tf.compat.v1.global_variables()
                 if v.op.name not in self.saved_variables]
      self._unsaved_initializer = unsaved and tf.compat.v1.variables_initializer(unsaved)
      self.checkpointer = training_loop.Checkpointer(self.saved_variables, run.train_dir,
                                                     run.max_to_keep)
      self.statistics_finite = training_loop.statistics_finite_after(
          self.tensors.train_op, self.saved_variables.values())
      self.warm_start = self._warm_start_saver()
    self.graph.finalize()  # Nothing may be added per step.
    self.session_config = derived.session_config(
        run, num_cpu_devices=run.num_clones if run.clone_on_cpu else 1)
    self.session = tf.compat.v1.Session(graph=self.graph, config=self.session_config)

  @property
  def last_saved_step(self):
    """The step of the last checkpoint saved or resumed from (None before ``run``)."""
    return self.checkpointer.last_saved_step

  def _warm_start_saver(self):
    """(saver, prefix, report) for the warm-start checkpoint when train_dir has none."""
    run = self.settings.run
    if not run.checkpoint_path or self.resume_from:
      return None
    prefix = checkpoints.resolve(run.checkpoint_path)
    saver, report = checkpoints.warm_start_saver(
        prefix, list(run.checkpoint_exclude_scopes), run.ignore_missing_vars)
    return saver, prefix, report

  def restore_or_initialize(self, log):
    """Resumes from train_dir's latest checkpoint, else initializes (and warm-starts)."""
    if self.resume_from:
      checkpoints.check_fits(self.resume_from, self.saved_variables)
      self.checkpointer.saver.restore(self.session, self.resume_from)
      if self._unsaved_initializer:
        self.session.run(self._unsaved_initializer)
      checkpoints.recover_saver_list(self.checkpointer.saver, self.settings.run.train_dir,
                                     self.resume_from)
      log('resumed from %s' % self.resume_from)
      return
    self.session.run(self.tensors.initializer)
    if self.warm_start:
      saver, prefix, report = self.warm_start
      if saver:
        saver.restore(self.session, prefix)
      log('warm start from %s: %s' % (prefix, checkpoints.summarize(report)))

  def save(self, step):
    """Saves the latest checkpoint of ``step`` (see training_loop.Checkpointer.save)."""
    return self.checkpointer.save(self.session, step)

  def stop(self, step, stop_requests):
    """Saves unsaved steps and raises Stopped, for a SIGINT or SIGTERM."""
    saved = ''
    if step != self.last_saved_step:
      saved = '; saved %s' % os.path.basename(self.save(step))
      checkpoints.write_metadata(self.settings.run.train_dir, self.metadata)
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
    data = self.settings.data
    return batching.training_batch(self.data.train, data.batch_size, data.seed, step,
                                   self.augmentation)

  def train_step(self, step):
    """Runs the training step ``step`` on its batch; returns (loss, accuracy, whether
    the batch-norm statistics are finite, summary)."""
    return self._run_step(*self.batch(step))

  def run(self, stop_requests=None, on_step=None):
    """Trains to ``total_steps``, then reports on the test split (read only then);
    returns that report (None if no step ran).

    Args:
      stop_requests: a StopRequests whose signal stops the run (saved, then Stopped).
      on_step: called as ``on_step(step, loss, accuracy)`` after every step.
    """
    train_dir = self.settings.run.train_dir
    bar = ProgressBar(self.total_steps, self.steps_per_epoch, self.settings.data.batch_size)
    # Both calls below leave the interpreter free: the synthetic set is drawn meanwhile.
    self.data.prefetch()
    self.restore_or_initialize(bar.message)
    self.checkpointer.warn_if_short_of_space()
    step = int(self.session.run(self.tensors.global_step))
    self.checkpointer.last_saved_step = step
    if step < self.total_steps:
      self.prepare_step()
    checkpoints.write_metadata(train_dir, self.metadata)
    writer = training_loop.summary_writer(train_dir, self.graph)
    chief = training_loop.Chief(lambda: self.session, self.checkpointer, self.tensors.model,
                                self.data, self.metadata, writer, bar.message)
    cadence = derived.Cadence.of(self.settings.run, self.steps_per_epoch, self.total_steps)
    loop = training_loop.StepLoop(cadence, bar, train_dir, chief, on_step)
    report = None
    while step < self.total_steps:
      if stop_requests and stop_requests.signal_name:
        self.stop(step, stop_requests)
      loss, accuracy, statistics_finite, summary = self.train_step(step)
      report = loop.after_step(step, step + 1, loss, accuracy, statistics_finite,
                               summary) or report
      step += 1
    if report is not None:
      report = chief.final_report(step, report)
    checkpoints.write_end(train_dir, self.metadata, step)
    writer.close()
    return report

  def close(self):
    self.session.close()


def train(settings, data, metadata, on_step=None):
  """Runs one training job to completion (or resumes it from the newest readable
  checkpoint); returns the final test report, or None when the train dir had
  already reached the final step.

  A SIGINT or SIGTERM saves and raises Stopped; a damaged newest checkpoint is
  skipped with a warning.
  """
  with StopRequests() as stop_requests:
    resume_from = resume_point(settings.run.train_dir, metadata)
    trainer = Trainer(settings, data, metadata, resume_from)
    try:
      with trainer.graph.as_default():  # Savers and writers act on the default graph.
        return trainer.run(stop_requests, on_step)
    finally:
      trainer.close()
