"""train_graph.py's flags, the typed settings the library reads and the flag reference
all come from one declaration (legacy_resnet/settings/declaration.py): every declared
setting is a flag and a field, filled with the flag's value, and adding a setting is
one declaration."""

import dataclasses

import pytest

from legacy_resnet.core import cli
from legacy_resnet.core.errors import SettingError
from legacy_resnet.programs import flag_docs
from legacy_resnet.programs import train_cli
from legacy_resnet.settings import declaration
from legacy_resnet.settings import derived
from legacy_resnet.settings import train_settings

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
    '--augmentation', 'photo', '--random_crop_scale', '0.1', '--random_rotation', '5',
    '--random_hue', '6', '--random_saturation', '0.15', '--random_white_balance', '0.05',
    '--random_blur', '0.5', '--random_noise', '0.01', '--seed', '5',
    '--save_every_n_steps', '3', '--save_interval_secs', '9', '--max_to_keep',
    '2', '--checkpoint_path', 'zoo.ckpt', '--checkpoint_exclude_scopes', 'a,b',
    '--ignore_missing_vars', '--trainable_scopes', 'c', '--log_every_n_steps', '4',
    '--num_intra_threads', '1', '--num_inter_threads', '2', '--num_clones', '2',
    '--clone_on_cpu', '--xla', '--precision', 'bfloat16', '--verbose', '--ps_hosts', 'p:1',
    '--worker_hosts', 'w:1', '--job_name', 'worker', '--task_index', '0', '--no-sync_replicas',
    '--replicas_to_aggregate', '1', '--ps_timeout_secs', '30']


def _declared():
  """{setting name: group field} of the declaration."""
  return {setting.name: group.field for group in declaration.TRAIN_SETTINGS
          for setting in group.settings}


def test_every_declared_setting_is_a_flag_and_a_field():
  flags = {action.dest for action in train_cli.parser()._actions  # pylint: disable=protected-access
           if action.option_strings and action.dest != 'help'}
  assert flags == set(_declared()) | {'verbose'}  # --verbose acts on the command line only.
  fields = {field.name: group for group, kind in train_settings.GROUPS.items()
            for field in dataclasses.fields(kind)}
  assert fields == _declared()


def test_non_default_flags_are_the_values_of_their_fields():
  built, defaults = train_cli.settings_of(NON_DEFAULT), train_cli.settings_of([])
  for name, group in _declared().items():
    value, default = getattr(getattr(built, group), name), getattr(getattr(defaults, group), name)
    assert value != default, name
  assert built.model.trainable_scopes == ('c',)
  assert built.run.checkpoint_exclude_scopes == ('a', 'b')
  assert defaults.run.checkpoint_exclude_scopes == ()


def test_settings_are_frozen_typed_and_have_no_defaults_of_their_own():
  built = train_cli.settings_of([])
  with pytest.raises(dataclasses.FrozenInstanceError):
    built.data.batch_size = 1
  types = {field.name: field.type for field in dataclasses.fields(train_settings.DataSettings)}
  assert types['batch_size'] is int and types['dataset_dir'] == (str | None)
  for kind in train_settings.GROUPS.values():
    assert kind.__dataclass_params__.frozen, kind
    for field in dataclasses.fields(kind):
      assert field.default is dataclasses.MISSING, (kind.__name__, field.name)
    assert kind.__name__ in train_settings.__doc__


def test_adding_a_setting_is_one_declaration():
  harmless = declaration.Setting('summary_note', declaration.TEXT, 'none',
                                 'a note kept with the run (default: %(default)s)')
  groups = tuple(dataclasses.replace(group, settings=group.settings + (harmless,))
                 if group.field == 'run' else group for group in declaration.TRAIN_SETTINGS)
  parser = cli.ArgumentParser(prog='train_graph.py')
  train_settings.add_flags(parser, groups)
  built = train_settings.from_flags(parser.parse_args(['--summary_note', 'first try']), groups)
  assert built.run.summary_note == 'first try'
  assert train_settings.from_flags(parser.parse_args([]), groups).run.summary_note == 'none'
  assert ('| `--summary_note` | text | a note kept with the run (default: none) |'
          in flag_docs.table(parser))
  assert '--summary_note' not in flag_docs.table(train_cli.parser())


def test_each_kind_of_value_refuses_what_is_outside_its_range(capsys):
  for flags in (['--batch_size', '0'], ['--random_shift', '-1'], ['--learning_rate', 'nan'],
                ['--adam_beta1', '1'], ['--model_name', 'vgg_16']):
    with pytest.raises(SystemExit) as exited:
      train_cli.parser().parse_args(flags)
    assert exited.value.code == cli.EXIT_USAGE
    error = capsys.readouterr().err
    assert error.startswith('error: argument %s' % flags[0]) and error.count('\n') == 1


def test_library_errors_name_the_setting_and_the_command_line_the_flag(capsys):
  built = train_cli.settings_of(['--batch_size', '100'])
  with pytest.raises(SettingError) as raised:
    derived.run_length(built, 60)
  assert str(raised.value) == 'batch_size 100 is larger than the 60 training images'

  def main(argv):
    del argv
    raise raised.value

  assert cli.run(main, []) == cli.EXIT_USAGE
  assert capsys.readouterr().err == (
      'error: --batch_size 100 is larger than the 60 training images\n')
