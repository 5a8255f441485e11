"""Bad input to the command-line programs: one ``error:`` line naming the file, key or
flag, exit status 2, and nothing already saved is touched."""

import os
import shutil

import h5py
import numpy as np
import pytest
from scriptutil import run_script

from legacy_resnet.core import cli
from legacy_resnet.programs import eval_cli
from legacy_resnet.programs import train_cli


def run_in_process(main, argv, capsys):
  """(exit status, stderr) of a front door's main, run through cli.run like the script."""
  try:
    status = cli.run(main, [str(arg) for arg in argv])
  except SystemExit as exit_:  # argparse errors exit directly.
    status = exit_.code
  return status, capsys.readouterr().err


def write_signs(folder, train=None, test=None):
  """A SIGNS folder of 12 + 6 images; ``train``/``test`` map keys to replacement values
  (None deletes the key)."""
  rng = np.random.default_rng(0)
  for prefix, count, overrides in (('train', 12, train or {}), ('test', 6, test or {})):
    content = {'%s_set_x' % prefix: rng.integers(0, 255, (count, 64, 64, 3), dtype=np.uint8),
               '%s_set_y' % prefix: np.arange(count) % 6,
               'list_classes': np.arange(6)}
    content.update(overrides)
    with h5py.File(os.path.join(folder, '%s_signs.h5' % prefix), 'w') as out:
      for key, value in content.items():
        if value is not None:
          out.create_dataset(key, data=value)


# defect -> (replaced keys of train_signs.h5, the key the error must name)
DEFECTS = {
    'x key missing': ({'train_set_x': None}, 'train_set_x'),
    'y key missing': ({'train_set_y': None}, 'train_set_y'),
    'classes missing': ({'list_classes': None}, 'list_classes'),
    'wrong rank': ({'train_set_x': np.zeros((12, 64, 64), np.uint8)}, 'train_set_x'),
    'wrong dtype': ({'train_set_x': np.full((12, 64, 64, 3), b'a')}, 'train_set_x'),
    'length mismatch': ({'train_set_y': np.arange(11) % 6}, 'train_set_y'),
    'label outside classes': ({'train_set_y': np.full(12, 7)}, 'train_set_y'),
    'empty set': ({'train_set_x': np.zeros((0, 64, 64, 3), np.uint8),
                   'train_set_y': np.zeros(0, np.int64)}, 'train_set_x'),
    'nan in float data': ({'train_set_x': np.full((12, 64, 64, 3), np.nan, np.float32)},
                          'train_set_x'),
}


@pytest.mark.parametrize('defect', sorted(DEFECTS))
def test_data_defect_is_one_error_line(defect, tmp_path, capsys):
  overrides, key = DEFECTS[defect]
  write_signs(tmp_path, train=overrides)
  status, err = run_in_process(train_cli.main, ['--dataset_dir', tmp_path, '--train_dir',
                                                tmp_path / 'run'], capsys)
  assert status == 2
  assert err.startswith('error: ') and err.count('\n') == 1, err
  assert 'train_signs.h5' in err and key in err, err
  assert not os.path.exists(tmp_path / 'run' / 'checkpoint')


def test_missing_and_non_hdf5_files(tmp_path, capsys):
  write_signs(tmp_path)
  os.remove(tmp_path / 'test_signs.h5')
  status, err = run_in_process(train_cli.main, ['--dataset_dir', tmp_path], capsys)
  assert status == 2 and 'test_signs.h5' in err and err.count('\n') == 1, err
  (tmp_path / 'test_signs.h5').write_text('not hdf5')
  # With a validation split the test file is read only after training: checked at once
  # only when it is the per-epoch evaluation's split.
  status, err = run_in_process(train_cli.main, ['--dataset_dir', tmp_path,
                                                '--validation_split', '0'], capsys)
  assert status == 2 and 'test_signs.h5' in err and 'HDF5' in err, err


@pytest.mark.parametrize('argv, expected', [
    (['--batch_size', '0'], '--batch_size'),
    (['--model_name', 'resnet_v9'], '--model_name'),
    (['--optimizer', 'lbfgs'], '--optimizer'),
    (['--learning_rate_decay_type', 'zigzag'], '--learning_rate_decay_type'),
    (['--num_epochs', 'many'], '--num_epochs'),
    (['--batch_size', '64'], '--batch_size 64 is larger than the 6 training images'),
    (['--trainable_scopes', 'nowhere'], '--trainable_scopes'),
    (['--checkpoint_path', '/nonexistent/model.ckpt'], '--checkpoint_path'),
    (['--seed', '-1'], "--seed: '-1' is negative"),
    (['--random_shift', '-3'], '--random_shift'),
    (['--save_every_n_steps', '-1'], '--save_every_n_steps'),
    (['--num_intra_threads', '-2'], '--num_intra_threads'),
    (['--num_epochs', 'inf'], "--num_epochs: 'inf' is not a finite non-negative number"),
    (['--learning_rate', 'nan'], '--learning_rate'),
    (['--batch_norm_decay', '1.5'], "--batch_norm_decay: '1.5' is not in [0, 1)"),
    (['--adam_beta2', '1'], '--adam_beta2'),
    (['--moving_average_decay', '-0.1'], '--moving_average_decay'),
])
def test_bad_training_flags(argv, expected, tmp_path, capsys):
  write_signs(tmp_path)
  status, err = run_in_process(
      train_cli.main, ['--dataset_dir', tmp_path, '--train_dir', tmp_path / 'run',
                       '--model_name', 'resnet_v1_18', '--batch_size', '6',
                       '--max_number_of_steps', '1'] + argv,
      capsys)
  assert status == 2, err
  assert err.startswith('error: ') and err.count('\n') == 1, err
  assert expected in err


@pytest.mark.parametrize('argv, expected', [
    (['--checkpoint_path', '/nonexistent'], '--checkpoint_path /nonexistent: not a checkpoint'),
    (['--checkpoint_path', '.'], 'folder holds no checkpoint'),
    ([], 'the following arguments are required: --checkpoint_path'),
    (['--checkpoint_path', '.', '--output_stride', '5'], '--output_stride'),
])
def test_bad_evaluation_flags(argv, expected, capsys):
  status, err = run_in_process(eval_cli.main, argv, capsys)
  assert status == 2 and err.startswith('error: ') and err.count('\n') == 1, err
  assert expected in err


def test_bad_image_files(trained_small_run, tmp_path, capsys):
  empty = tmp_path / 'empty.png'
  empty.write_bytes(b'')
  text = tmp_path / 'text.jpg'
  text.write_text('not an image')
  for path, expected in ((empty, 'file is empty'), (text, 'not a decodable image'),
                         (tmp_path / 'absent.png', 'No such file')):
    status, err = run_in_process(eval_cli.main, ['--checkpoint_path', trained_small_run,
                                                 '--images', path], capsys)
    assert status == 2 and err.count('\n') == 1 and expected in err and str(path) in err, err


def test_bad_input_leaves_existing_outputs_untouched(trained_small_run, tmp_path, capsys):
  report = tmp_path / 'report.json'
  report.write_text('{"accuracy": 1.0}')
  status, _ = run_in_process(eval_cli.main, ['--checkpoint_path', trained_small_run,
                                             '--dataset_file', tmp_path / 'absent.h5',
                                             '--report', report], capsys)
  assert status == 2 and report.read_text() == '{"accuracy": 1.0}'


def test_subprocess_gives_no_traceback(tmp_path):
  write_signs(tmp_path, train={'train_set_y': np.full(12, 9)})
  result = run_script('train_graph.py', '--dataset_dir', tmp_path, check=False)
  assert result.returncode == 2
  assert result.stderr.splitlines() == [result.stderr.strip()]
  assert 'Traceback' not in result.stderr and 'label 9' in result.stderr


@pytest.fixture(scope='module')
def trained_small_run(tmp_path_factory):
  """A one-step resnet_v1_18 run on a tiny folder."""
  folder = tmp_path_factory.mktemp('tiny')
  write_signs(folder)
  shutil.rmtree(folder / 'run', ignore_errors=True)
  status = cli.run(train_cli.main, ['--dataset_dir', str(folder), '--train_dir',
                                    str(folder / 'run'), '--model_name', 'resnet_v1_18',
                                    '--batch_size', '6', '--max_number_of_steps', '1'])
  assert status == 0
  return str(folder / 'run')
