"""Learning-rate schedules and optimizers, chosen by the flag names of tensorflow/models'
slim ``train_image_classifier.py`` (``--learning_rate_decay_type``, ``--optimizer``)."""

import math

import tensorflow as tf

from legacy_resnet.platform.errors import SettingError

DECAY_TYPES = ('fixed', 'exponential', 'cosine')
OPTIMIZERS = ('adam', 'momentum', 'sgd', 'rmsprop')


def learning_rate(global_step, base_rate, decay_type, total_steps, steps_per_epoch,
                  warmup_epochs=0.0, decay_factor=0.94, num_epochs_per_decay=2.0,
                  end_learning_rate=0.0):
  """The learning rate as a scalar tensor of ``global_step``.

  Args:
    global_step: int64 scalar tensor.
    base_rate: the rate reached at the end of the warm-up.
    decay_type: 'fixed', 'exponential' (times ``decay_factor`` every
      ``num_epochs_per_decay`` epochs, staircase) or 'cosine' (half a cosine from
      ``base_rate`` down to ``end_learning_rate`` at ``total_steps``).
    total_steps: number of training steps of the whole run.
    steps_per_epoch: steps in one pass over the training set.
    warmup_epochs: linear ramp from 0 to ``base_rate`` over this many epochs.

  Returns:
    float32 scalar tensor named 'learning_rate'.
  """
  if decay_type not in DECAY_TYPES:
    raise SettingError('{learning_rate_decay_type}: %r is not one of %s',
                       decay_type, ', '.join(DECAY_TYPES))
  step = tf.cast(global_step, tf.float32)
  warmup_steps = float(round(warmup_epochs * steps_per_epoch))
  after_warmup = tf.maximum(step - warmup_steps, 0.0)
  if decay_type == 'fixed':
    rate = tf.constant(base_rate, tf.float32)
  elif decay_type == 'exponential':
    decay_steps = max(1, int(steps_per_epoch * num_epochs_per_decay))
    rate = base_rate * tf.pow(decay_factor, tf.floor(after_warmup / decay_steps))
  else:
    decay_span = max(1.0, total_steps - warmup_steps)
    progress = tf.minimum(after_warmup / decay_span, 1.0)
    rate = end_learning_rate + 0.5 * (base_rate - end_learning_rate) * (
        1.0 + tf.cos(math.pi * progress))
  if warmup_steps > 0:
    rate = tf.where(step < warmup_steps, base_rate * (step + 1.0) / warmup_steps, rate)
  return tf.identity(rate, name='learning_rate')


def optimizer(name, rate, momentum=0.9, adam_beta1=0.9, adam_beta2=0.999, opt_epsilon=1e-8,
              rmsprop_decay=0.9, rmsprop_momentum=0.9):
  """A ``tf.compat.v1.train`` optimizer by flag name."""
  if name == 'adam':
    return tf.compat.v1.train.AdamOptimizer(rate, beta1=adam_beta1, beta2=adam_beta2,
                                            epsilon=opt_epsilon)
  if name == 'momentum':
    return tf.compat.v1.train.MomentumOptimizer(rate, momentum=momentum)
  if name == 'sgd':
    return tf.compat.v1.train.GradientDescentOptimizer(rate)
  if name == 'rmsprop':
    return tf.compat.v1.train.RMSPropOptimizer(rate, decay=rmsprop_decay,
                                               momentum=rmsprop_momentum,
                                               epsilon=opt_epsilon)
  raise SettingError('{optimizer}: %r is not one of %s', name, ', '.join(OPTIMIZERS))
