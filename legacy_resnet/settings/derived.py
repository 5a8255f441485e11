"""What follows from a TrainSettings: run length, cadence, augmentation, session config."""

import dataclasses

from legacy_resnet.data import batching
from legacy_resnet.data import photo_augmentation
from legacy_resnet.graph import precision
from legacy_resnet.core import sessions
from legacy_resnet.core.errors import SettingError


def run_length(settings, num_train, batches_per_step=1):
  """(steps_per_epoch, total_steps) of a TrainSettings on ``num_train`` images, with
  ``batches_per_step`` batches a step (synchronous replicas aggregate several)."""
  batch_size, num_clones = settings.data.batch_size, settings.run.num_clones
  if batch_size > num_train:
    raise SettingError('{batch_size} %d is larger than the %d training images', batch_size, num_train)
  if batch_size % num_clones:
    raise SettingError('{batch_size} %d does not split evenly over {num_clones} %d', batch_size, num_clones)
  per_epoch = batching.steps_per_epoch(num_train, batch_size * batches_per_step)
  schedule = settings.schedule
  total = schedule.max_number_of_steps or int(round(schedule.num_epochs * per_epoch))
  return per_epoch, max(1, total)


@dataclasses.dataclass(frozen=True)
class Cadence:
  """When a run's chief acts, in steps (and seconds for ``save_interval_secs``)."""
  steps_per_epoch: int
  total_steps: int
  save_every_n_steps: int
  save_interval_secs: float
  log_every_n_steps: int

  @classmethod
  def of(cls, run, steps_per_epoch, total_steps):
    """The cadence of a RunSettings ``run`` over a run of that length."""
    return cls(steps_per_epoch, total_steps, run.save_every_n_steps, run.save_interval_secs,
               run.log_every_n_steps)


def augmentation(settings):
  """The batching.Augmentation of an InputSettings."""
  photo = photo_augmentation.PhotoAugmentation(**{
      field: getattr(settings, flag) for field, flag in photo_augmentation.FLAGS.items()})
  return batching.Augmentation(settings.random_shift, settings.horizontal_flip,
                               settings.random_brightness, settings.random_contrast,
                               None if photo_augmentation.is_off(photo) else photo)


def session_config(settings, num_cpu_devices=1):
  """The ConfigProto of a RunSettings' threads, XLA and precision."""
  return precision.configure(
      sessions.session_config(settings.num_intra_threads, settings.num_inter_threads,
                              settings.xla, num_cpu_devices=num_cpu_devices), settings.precision)
