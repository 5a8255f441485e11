"""train_graph.py's flags and the settings the library reads (legacy_resnet/settings.py)
cannot drift apart: every flag fills a field of the same name (but the ones that act on
the command line alone), every field is filled, with the flag's value."""

import dataclasses

import pytest

from legacy_resnet import cli
from legacy_resnet import settings
from legacy_resnet import train_cli
from legacy_resnet import training
from legacy_resnet.errors import SettingError

# Every flag away from its default, so a field filled from the wrong flag shows.
NON_DEFAULT = [
    '--dataset_dir', 'data', '--train_dir', 'run', '--validation_split', '0.2',
    '--model_name', 'resnet_v1_18', '--preprocessing_name', 'vgg', '--train_image_size', '64',
    '--eval_image_size', '72', '--labels_offset', '1', '--batch_size', '7', '--num_epochs', '3',
    '--max_number_of_steps', '11', '--optimizer', 'rmsprop', '--learning_rate', '0.5',
    '--learning_rate_decay_type', 'exponential', '--warmup_epochs', '2',
    '--learning_rate_decay_factor', '0.5', '--num_epochs_per_decay', '3',
    '--end_learning_rate', '0.01', '--momentum', '0.1', '--adam_beta1', '0.2', '--adam_beta2',
    '0.3', '--opt_epsilon', '0.4', '--rmsprop_decay', '0.6', '--rmsprop_momentum', '0.7',
    '--weight_decay', '0.01', '--batch_norm_decay', '0.8', '--moving_average_decay', '0.99',
    '--label_smoothing', '0.1', '--no-zero_init_residual', '--random_shift', '2',
    '--no-horizontal_flip', '--random_brightness', '0.2', '--random_contrast', '0.3',
    '--seed', '5', '--save_every_n_steps', '3', '--save_interval_secs', '9', '--max_to_keep',
    '2', '--checkpoint_path', 'zoo.ckpt', '--checkpoint_exclude_scopes', 'a,b',
    '--ignore_missing_vars', '--trainable_scopes', 'c', '--log_every_n_steps', '4',
    '--num_intra_threads', '1', '--num_inter_threads', '2', '--num_clones', '2',
    '--clone_on_cpu', '--xla', '--precision', 'bfloat16', '--verbose', '--ps_hosts', 'p:1',
    '--worker_hosts', 'w:1', '--job_name', 'worker', '--task_index', '0', '--no-sync_replicas',
    '--replicas_to_aggregate', '1', '--ps_timeout_secs', '30']


def _flag_names():
  return {action.dest for action in train_cli.parser()._actions  # pylint: disable=protected-access
          if action.option_strings and action.dest != 'help'}


def _fields():
  """{field name: group} over every group of settings.TrainSettings."""
  return {field.name: group for group, kind in settings.groups().items()
          for field in dataclasses.fields(kind)}


def test_every_flag_fills_a_field_and_every_field_has_a_flag():
  fields, flags = _fields(), _flag_names()
  assert sum(len(dataclasses.fields(kind)) for kind in settings.groups().values()) == len(fields)
  assert sorted(set(fields) - flags) == []
  assert sorted(flags - set(fields)) == sorted(train_cli.COMMAND_LINE_ONLY)


def test_non_default_flags_are_the_values_of_their_fields():
  flags = train_cli.parser().parse_args(NON_DEFAULT)
  defaults = train_cli.parser().parse_args([])
  built = train_cli.train_settings(flags)
  for name, group in _fields().items():
    value = getattr(getattr(built, group), name)
    assert getattr(flags, name) != getattr(defaults, name), name
    expected = getattr(flags, name)
    assert value == (tuple(expected) if isinstance(expected, list) else expected), name


def test_settings_are_frozen_and_have_no_defaults_of_their_own():
  built = train_cli.train_settings(train_cli.parser().parse_args([]))
  with pytest.raises(dataclasses.FrozenInstanceError):
    built.data.batch_size = 1
  for kind in settings.groups().values():
    assert kind.__dataclass_params__.frozen, kind
    for field in dataclasses.fields(kind):
      assert field.default is dataclasses.MISSING, (kind.__name__, field.name)
    assert kind.__name__ in settings.__doc__


def test_library_errors_name_the_setting_and_the_command_line_the_flag(capsys):
  built = train_cli.train_settings(train_cli.parser().parse_args(['--batch_size', '100']))
  with pytest.raises(SettingError) as raised:
    training.run_length(built, 60)
  assert str(raised.value) == 'batch_size 100 is larger than the 60 training images'

  def main(argv):
    del argv
    raise raised.value

  assert cli.run(main, []) == cli.EXIT_USAGE
  assert capsys.readouterr().err == (
      'error: --batch_size 100 is larger than the 60 training images\n')
