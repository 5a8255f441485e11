"""What a training run is told, as typed, frozen values made from ``declaration``: the
library reads these, never the command line's parsed flags.

- ``ModelSettings``: the network and what shapes its weights (regularization, batch
  norm, moving averages, label smoothing, which scopes train).
- ``InputSettings``: preprocessing (recorded with the run, applied by evaluation too)
  and the random augmentation of training batches.
- ``DataSettings``: where the data is, how it is split and batched, and the seed.
- ``OptimizerSettings``: the optimizer and its hyper-parameters.
- ``ScheduleSettings``: the learning-rate schedule and the length of the run.
- ``RunSettings``: the train dir, checkpoints, warm start, summaries, threads,
  devices and the number format (precision).
- ``ClusterSettings``: the parameter-server cluster, when there is one.

``TrainSettings`` holds one of each. ``add_flags`` declares a flag per setting on a
parser and ``from_flags`` reads them back, so the two cannot drift apart.
"""

import argparse
import dataclasses

from legacy_resnet.settings.declaration import SWITCH
from legacy_resnet.settings.declaration import TRAIN_SETTINGS


def types_of(groups):
  """(TrainSettings, {group field: its dataclass}) made from the declared ``groups``:
  frozen dataclasses with a field per setting and no defaults of their own."""
  kinds = {group.field: dataclasses.make_dataclass(
      group.class_name, [(setting.name, setting.type) for setting in group.settings],
      frozen=True, namespace={'__doc__': group.title, '__module__': __name__})
      for group in groups}
  whole = dataclasses.make_dataclass(
      'TrainSettings', list(kinds.items()), frozen=True,
      namespace={'__doc__': "One training run's settings, by group.", '__module__': __name__})
  return whole, kinds


TrainSettings, GROUPS = types_of(TRAIN_SETTINGS)
ModelSettings = GROUPS['model']
InputSettings = GROUPS['input']
DataSettings = GROUPS['data']
OptimizerSettings = GROUPS['optimizer']
ScheduleSettings = GROUPS['schedule']
RunSettings = GROUPS['run']
ClusterSettings = GROUPS['cluster']


def add_flags(parser, groups=TRAIN_SETTINGS):
  """Adds a flag per declared setting to the argparse ``parser``, a section per group."""
  for group in groups:
    section = parser.add_argument_group(group.title)
    for setting in group.settings:
      options = dict(default=setting.default, help=setting.help)
      if setting.kind is SWITCH:
        options['action'] = argparse.BooleanOptionalAction
      else:
        options.update(type=setting.kind.parse, choices=setting.choices,
                       metavar=setting.metavar)
      section.add_argument('--' + setting.name, **options)


def from_flags(flags, groups=TRAIN_SETTINGS):
  """The TrainSettings (made from the same ``groups``) of the parsed ``flags``."""
  whole, kinds = types_of(groups) if groups is not TRAIN_SETTINGS else (TrainSettings, GROUPS)
  return whole(**{group.field: kinds[group.field](**{
      setting.name: _value(setting, flags) for setting in group.settings})
      for group in groups})


def _value(setting, flags):
  """The value of ``setting`` in the parsed ``flags``, or its derived default."""
  value = getattr(flags, setting.name)
  return setting.default_of(flags) if value is None and setting.default_of else value
