"""The training loop: builds the graph, restores or initializes it, trains with
held-out evaluation after every epoch, and keeps the latest and the best checkpoints."""

import os
import time

import numpy as np
import tensorflow as tf

from legacy_resnet import batching
from legacy_resnet import checkpoints
from legacy_resnet import compat
from legacy_resnet import evaluation
from legacy_resnet import metrics
from legacy_resnet import model_graph
from legacy_resnet import replication
from legacy_resnet.errors import UsageError
from legacy_resnet.progress import ProgressBar

CHECKPOINT_BASENAME = 'model.ckpt'


def run_length(settings, num_train):
  """(steps_per_epoch, total_steps) from the batch size and the epoch/step flags."""
  if settings.batch_size > num_train:
    raise UsageError('--batch_size %d is larger than the %d training images'
                     % (settings.batch_size, num_train))
  if settings.batch_size % settings.num_clones:
    raise UsageError('--batch_size %d does not split evenly over --num_clones %d'
                     % (settings.batch_size, settings.num_clones))
  per_epoch = batching.steps_per_epoch(num_train, settings.batch_size)
  total = settings.max_number_of_steps or int(round(settings.num_epochs * per_epoch))
  return per_epoch, max(1, total)


def _carry_over_best(train_dir, metadata):
  """On resume, keeps the best held-out result of the earlier run; a train dir that
  holds another model or class list cannot be resumed."""
  prefix = tf.train.latest_checkpoint(train_dir)
  if prefix is None:
    return
  previous = checkpoints.read_metadata(prefix)
  for key in ('model_name', 'class_names', 'image_size', 'moving_average_decay'):
    if previous.get(key) != metadata[key]:
      raise UsageError('--train_dir %s holds a run with %s=%r, not %r; use another '
                       '--train_dir' % (train_dir, key, previous.get(key), metadata[key]))
  metadata['best'] = previous.get('best')


class _Trainer:
  """Owns the session and savers of one training run."""

  def __init__(self, settings, train_split, test_split, metadata):
    self.settings = settings
    self.train_split = train_split
    self.test_split = test_split
    self.metadata = metadata
    self.steps_per_epoch, self.total_steps = run_length(settings, len(train_split.labels))
    self.augmentation = batching.Augmentation(
        settings.random_shift, settings.horizontal_flip, settings.random_brightness,
        settings.random_contrast)
    self.graph = tf.Graph()
    with self.graph.as_default():
      tf.compat.v1.set_random_seed(settings.seed)
      self.tensors = model_graph.build_training(
          settings, len(train_split.class_names), metadata['image_size'],
          self.steps_per_epoch, self.total_steps, clones=replication.clones(
              settings.num_clones, settings.clone_on_cpu, len(compat.gpus())))
      self.saved_variables = {v.op.name: v for v in tf.compat.v1.global_variables()}
      # Relative paths in the 'checkpoint' state files keep a train dir movable.
      self.saver = tf.compat.v1.train.Saver(self.saved_variables, save_relative_paths=True,
                                            max_to_keep=settings.max_to_keep)
      self.best_saver = tf.compat.v1.train.Saver(self.saved_variables, save_relative_paths=True,
                                                 max_to_keep=1)
      self.warm_start = self._warm_start_saver()
    self.graph.finalize()  # Nothing may be added per step.
    self.session = tf.compat.v1.Session(
        graph=self.graph,
        config=compat.session_config(
            settings.num_intra_threads, settings.num_inter_threads, settings.xla,
            num_cpu_devices=settings.num_clones if settings.clone_on_cpu else 1))

  def _warm_start_saver(self):
    """(saver, prefix, report) for --checkpoint_path when train_dir has no checkpoint."""
    if not self.settings.checkpoint_path or tf.train.latest_checkpoint(self.settings.train_dir):
      return None
    prefix = checkpoints.resolve(self.settings.checkpoint_path)
    saver, report = checkpoints.warm_start_saver(
        prefix, self.settings.checkpoint_exclude_scopes, self.settings.ignore_missing_vars)
    return saver, prefix, report

  def restore_or_initialize(self, log):
    """Resumes from train_dir's latest checkpoint, else initializes (and warm-starts)."""
    latest = tf.train.latest_checkpoint(self.settings.train_dir)
    if latest:
      checkpoints.check_fits(latest, self.saved_variables)
      self.saver.restore(self.session, latest)
      log('resumed from %s' % latest)
      return
    self.session.run(self.tensors.initializer)
    if self.warm_start:
      saver, prefix, report = self.warm_start
      if saver:
        saver.restore(self.session, prefix)
      log('warm start from %s: %s' % (prefix, checkpoints.summarize(report)))

  def evaluate(self):
    """Held-out report of the evaluation tower (moving averages when kept)."""
    model = self.tensors.model
    probabilities = evaluation.predict(self.session, model.eval_probabilities, model.images,
                                       self.test_split.images)
    return metrics.classification_report(self.test_split.labels, probabilities,
                                         self.test_split.class_names)

  def save(self, step):
    return self.saver.save(self.session, os.path.join(self.settings.train_dir,
                                                       CHECKPOINT_BASENAME), global_step=step)

  def end_of_epoch(self, step, writer, log):
    """Evaluates, logs, saves the latest checkpoint and, when better, the best one."""
    report = self.evaluate()
    epoch = (step - 1) // self.steps_per_epoch + 1
    log('epoch %d step %d: held-out accuracy %.4f loss %.4f'
        % (epoch, step, report['accuracy'], report['loss']))
    writer.add_summary(tf.compat.v1.Summary(value=[
        tf.compat.v1.Summary.Value(tag='eval/accuracy', simple_value=report['accuracy']),
        tf.compat.v1.Summary.Value(tag='eval/loss', simple_value=report['loss'])]), step)
    self.save(step)
    best = self.metadata.get('best')
    if best is None or report['accuracy'] > best['accuracy']:
      prefix = self.best_saver.save(
          self.session, os.path.join(self.settings.train_dir, checkpoints.BEST_SUBDIR,
                                     CHECKPOINT_BASENAME),
          global_step=step, latest_filename='checkpoint')
      self.metadata['best'] = {'accuracy': report['accuracy'], 'loss': report['loss'],
                               'global_step': step, 'checkpoint': os.path.relpath(
                                   prefix, self.settings.train_dir)}
    self.metadata['last_eval'] = {'accuracy': report['accuracy'], 'loss': report['loss'],
                                  'global_step': step}
    checkpoints.write_metadata(self.settings.train_dir, self.metadata)
    return report

  def run(self):
    """Trains to ``total_steps``; returns the last held-out report (None if no step ran)."""
    settings, tensors = self.settings, self.tensors
    bar = ProgressBar(self.total_steps, self.steps_per_epoch, settings.batch_size)
    self.restore_or_initialize(bar.message)
    checkpoints.write_metadata(settings.train_dir, self.metadata)
    writer = tf.compat.v1.summary.FileWriter(settings.train_dir, self.graph)
    step = int(self.session.run(tensors.global_step))
    report = None
    last_save = time.monotonic()
    fetches = [tensors.train_op, tensors.loss, tensors.accuracy, tensors.summary_op]
    while step < self.total_steps:
      images, labels = batching.training_batch(self.train_split, settings.batch_size,
                                               settings.seed, step, self.augmentation)
      _, loss, accuracy, summary = self.session.run(fetches, {
          tensors.model.images: images, tensors.model.labels: labels,
          tensors.model.is_training: True})
      step += 1
      if not np.isfinite(loss):
        raise UsageError('loss became %s at step %d; the last checkpoint in %s is kept '
                         '(try a lower --learning_rate)' % (loss, step, settings.train_dir))
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
    writer.close()
    return report

  def close(self):
    self.session.close()


def train(settings, train_split, test_split, metadata):
  """Runs one training job to completion (or resumes it); returns the last held-out
  report, or None when the train dir had already reached the final step."""
  _carry_over_best(settings.train_dir, metadata)
  trainer = _Trainer(settings, train_split, test_split, metadata)
  try:
    with trainer.graph.as_default():  # Savers and writers act on the default graph.
      return trainer.run()
  finally:
    trainer.close()
