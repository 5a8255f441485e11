"""Learning-rate schedules and optimizers, chosen by the flag names of tensorflow/models'
slim ``train_image_classifier.py`` (``--learning_rate_decay_type``, ``--optimizer``)."""

import math

import tensorflow as tf

from legacy_resnet.core.errors import SettingError

DECAY_TYPES = ('fixed', 'exponential', 'cosine')
OPTIMIZERS = ('adam', 'momentum', 'sgd', 'rmsprop')


def learning_rate(global_step, schedule, total_steps, steps_per_epoch):
  """The learning rate of a ScheduleSettings ``schedule``: a float32 scalar tensor named
  'learning_rate' of the int64 ``global_step``. A linear warm-up, then 'fixed',
  'exponential' (staircase) or 'cosine' (down to ``end_learning_rate`` at ``total_steps``).
  """
  decay_type, base_rate = schedule.learning_rate_decay_type, schedule.learning_rate
  if decay_type not in DECAY_TYPES:
    raise SettingError('{learning_rate_decay_type}: %r is not one of %s', decay_type, ', '.join(DECAY_TYPES))
  step = tf.cast(global_step, tf.float32)
  warmup_steps = float(round(schedule.warmup_epochs * steps_per_epoch))
  after_warmup = tf.maximum(step - warmup_steps, 0.0)
  if decay_type == 'fixed':
    rate = tf.constant(base_rate, tf.float32)
  elif decay_type == 'exponential':
    decay_steps = max(1, int(steps_per_epoch * schedule.num_epochs_per_decay))
    rate = base_rate * tf.pow(schedule.learning_rate_decay_factor, tf.floor(after_warmup / decay_steps))
  else:
    decay_span = max(1.0, total_steps - warmup_steps)
    progress = tf.minimum(after_warmup / decay_span, 1.0)
    end = schedule.end_learning_rate
    rate = end + 0.5 * (base_rate - end) * (1.0 + tf.cos(math.pi * progress))
  if warmup_steps > 0:
    rate = tf.where(step < warmup_steps, base_rate * (step + 1.0) / warmup_steps, rate)
  return tf.identity(rate, name='learning_rate')


def optimizer(settings, rate):
  """The ``tf.compat.v1.train`` optimizer of an OptimizerSettings, at ``rate``."""
  train, name = tf.compat.v1.train, settings.optimizer
  if name == 'adam':
    return train.AdamOptimizer(rate, beta1=settings.adam_beta1, beta2=settings.adam_beta2,
                               epsilon=settings.opt_epsilon)
  if name == 'momentum':
    return train.MomentumOptimizer(rate, momentum=settings.momentum)
  if name == 'sgd':
    return train.GradientDescentOptimizer(rate)
  if name == 'rmsprop':
    return train.RMSPropOptimizer(rate, decay=settings.rmsprop_decay,
                                  momentum=settings.rmsprop_momentum, epsilon=settings.opt_epsilon)
  raise SettingError('{optimizer}: %r is not one of %s', name, ', '.join(OPTIMIZERS))
