"""What a training run is told, as typed, frozen values made from ``declaration``, which
the library reads instead of the parsed flags: ``TrainSettings`` holds one each of
ModelSettings, InputSettings, DataSettings, OptimizerSettings, ScheduleSettings,
RunSettings and ClusterSettings. ``add_flags`` and ``from_flags`` work from the same
declaration, so flags and settings cannot drift apart.
"""

import argparse
import dataclasses

from legacy_resnet.settings.declaration import SWITCH
from legacy_resnet.settings.declaration import TRAIN_SETTINGS


def types_of(groups):
  """(TrainSettings, {group field: its frozen dataclass}) of the declared ``groups``."""
  kinds = {group.field: dataclasses.make_dataclass(
      group.class_name, [(setting.name, setting.type) for setting in group.settings],
      frozen=True, namespace={'__doc__': group.title, '__module__': __name__}) for group in groups}
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
        options.update(type=setting.kind.parse, choices=setting.choices, metavar=setting.metavar)
      section.add_argument('--' + setting.name, **options)


def from_flags(flags, groups=TRAIN_SETTINGS):
  """The TrainSettings (made from the same ``groups``) of the parsed ``flags``."""
  whole, kinds = types_of(groups) if groups is not TRAIN_SETTINGS else (TrainSettings, GROUPS)

  def value(setting):  # The flag's, or the setting's derived default.
    given = getattr(flags, setting.name)
    return setting.default_of(flags) if given is None and setting.default_of else given

  return whole(**{group.field: kinds[group.field](**{
      setting.name: value(setting) for setting in group.settings}) for group in groups})
