"""One-process training: graph, session, restore or initialization, and the step loop
of ``training_loop`` (evaluations, latest and best checkpoints, the final test report)."""

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

# The metadata a resumed run must share with the earlier one, and (once runs had a
# validation split) what chose its best checkpoint.
_SAME_RUN_KEYS = ('model_name', 'class_names', 'image_size', 'moving_average_decay',
                  preprocessing.InputPipeline.METADATA_KEY)
_SAME_SPLIT_KEYS = ('validation_split', 'seed')


def run_metadata(settings, data):
  """What a run records in its train dir for ``eval_graph.py`` and for resuming."""
  return {
      'model_name': settings.model.model_name,
      'class_names': data.class_names,
      'image_size': data.image_size,
      'moving_average_decay': settings.model.moving_average_decay,
      'dataset': data.description,
      'validation_split': settings.data.validation_split,
      'seed': settings.data.seed,
      **preprocessing.InputPipeline.from_settings(settings.input).metadata_entries(),
  }


def resume_point(train_dir, metadata):
  """The checkpoint a (re)started run in ``train_dir`` goes on from (None: a new run),
  once what killed saves left is removed; the earlier run's results go into ``metadata``.
  A SettingError when the train dir holds a run of another model, classes or split."""
  checkpoints.remove_interrupted_writes(train_dir)
  resume_from = checkpoints.newest_readable(train_dir)
  if resume_from is None:
    return None
  previous = checkpoints.read_metadata(resume_from)
  # Runs from before validation splits have none.
  checked = _SAME_RUN_KEYS + (_SAME_SPLIT_KEYS if 'validation_split' in previous else ())
  for key in checked:
    if previous.get(key) != metadata.get(key):
      raise SettingError('{train_dir} %s holds a run with %s=%r, not %r%s; use another '
                         '{train_dir}', train_dir, key, previous.get(key), metadata.get(key),
                         ': its best checkpoint was chosen on another split'
                         if key in _SAME_SPLIT_KEYS else '')
  for key in ('best', 'last_eval', 'test', 'calibration'):
    if key in previous:
      metadata[key] = previous[key]
  return resume_from


class Trainer:
  """One training run in one process; tools that drive the steps use it within
  ``trainer.graph.as_default()``, then ``close()`` it (``train()`` does it all)."""

  def __init__(self, settings, data, metadata, resume_from=None):
    """Builds the graph and opens its session. ``metadata``: the run's (``run_metadata``),
    updated as it goes; ``resume_from``: a checkpoint to go on from (``resume_point``)."""
    self.settings = settings
    self.resume_from = resume_from
    self.data = data
    self.metadata = metadata
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
      # (saver, prefix, report) of the warm-start checkpoint when train_dir has none.
      self.warm_start = None
      if run.checkpoint_path and not resume_from:
        prefix = checkpoints.resolve(run.checkpoint_path)
        saver, report = checkpoints.warm_start_saver(
            prefix, list(run.checkpoint_exclude_scopes), run.ignore_missing_vars)
        self.warm_start = saver, prefix, report
    self.graph.finalize()  # Nothing may be added per step.
    self.session_config = derived.session_config(
        run, num_cpu_devices=run.num_clones if run.clone_on_cpu else 1)
    self.session = tf.compat.v1.Session(graph=self.graph, config=self.session_config)

  @property
  def last_saved_step(self):
    """The step of the last checkpoint saved or resumed from (None before ``run``)."""
    return self.checkpointer.last_saved_step

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

  def prepare_step(self):
    """Prepares the session's training step (``sessions.prepared_run``) for ``train_step``."""
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
    """(loss, accuracy, statistics finite, summary) of training step ``step``."""
    return self._run_step(*self.batch(step))

  def run(self, stop_requests=None, on_step=None):
    """Trains to ``total_steps``, then reports on the test split (read only then);
    returns that report (None if no step ran). A signal of ``stop_requests`` saves and
    raises Stopped; ``on_step(step, loss, accuracy)`` is called after every step."""
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
        saved = ''
        if step != self.last_saved_step:
          saved = '; saved %s' % os.path.basename(self.save(step))
          checkpoints.write_metadata(train_dir, self.metadata)
        raise Stopped('stopped by %s at step %d%s; run the same command again to resume'
                      % (stop_requests.signal_name, step, saved), stop_requests.exit_status)
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
  """Runs (or resumes) one training job to completion; returns the final test report,
  None when no step was left. A SIGINT or SIGTERM saves and raises Stopped."""
  with StopRequests() as stop_requests:
    resume_from = resume_point(settings.run.train_dir, metadata)
    trainer = Trainer(settings, data, metadata, resume_from)
    try:
      with trainer.graph.as_default():  # Savers and writers act on the default graph.
        return trainer.run(stop_requests, on_step)
    finally:
      trainer.close()
