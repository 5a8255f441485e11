"""Faults injected into real training and evaluation runs: SIGKILL at random moments
(also mid-save), SIGINT/SIGTERM, damaged checkpoint files, NaN in the data, and a
train dir that cannot be written. None may lose a completed checkpoint."""

import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import time

import netutil
import numpy as np
import pytest
import tensorflow as tf
from scriptutil import ROOT
from scriptutil import read_json
from scriptutil import run_script

from legacy_resnet.checkpointing import checkpoints
from legacy_resnet.data import datasets
from legacy_resnet.core.errors import UsageError
from legacy_resnet.programs import train_cli
from legacy_resnet.train import training

pytestmark = netutil.QUIET

STEPS = 12
SMALL = ['--model_name', 'resnet_v1_18', '--batch_size', '10']  # 5 steps per epoch (54 images).


def _train_command(signs_dir, train_dir, *extra):
  return [sys.executable, os.path.join(ROOT, 'train_graph.py'), '--dataset_dir', signs_dir,
          '--train_dir', str(train_dir)] + SMALL + [str(arg) for arg in extra]


def _assert_intact(train_dir):
  """Every checkpoint a state file lists exists and reads back whole; the metadata
  parses. Returns the newest listed checkpoint (or None)."""
  for folder in (train_dir, os.path.join(train_dir, checkpoints.BEST_SUBDIR)):
    for prefix in checkpoints.listed_checkpoints(str(folder)):
      assert checkpoints.unreadable_because(prefix) is None, prefix
  if os.path.exists(os.path.join(train_dir, checkpoints.METADATA_FILE)):
    read_json(os.path.join(train_dir, checkpoints.METADATA_FILE))
  listed = checkpoints.listed_checkpoints(str(train_dir))
  return listed[-1] if listed else None


def _step_of(prefix):
  return -1 if prefix is None else checkpoints.global_step(prefix)


def _saving(train_dir):
  """True while a checkpoint is being written (its temporary files exist)."""
  try:
    return any('.tempstate' in name for name in os.listdir(train_dir))
  except FileNotFoundError:
    return False


def _kill_when(process, ready, timeout=120):
  """SIGKILLs ``process`` as soon as ``ready()``; False if it ended first."""
  deadline = time.monotonic() + timeout
  while process.poll() is None and time.monotonic() < deadline:
    if ready():
      process.kill()
      process.wait()
      return True
    time.sleep(0.002)
  process.kill()
  process.wait()
  return False


def _variables(prefix):
  reader = tf.train.load_checkpoint(prefix)
  return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


def _kill_and_resume(signs_dir, tmp_path, num_kills, seed):
  """Kills alternate between mid-save and a random moment after a save; each restart
  resumes from the newest complete checkpoint, and the end result is the one an
  uninterrupted run reaches."""
  train_dir = tmp_path / 'killed'
  command = _train_command(signs_dir, train_dir, '--max_number_of_steps', STEPS,
                           '--save_every_n_steps', 1, '--max_to_keep', 3)
  rng = random.Random(seed)
  kills = []
  while len(kills) < num_kills:
    if _step_of(_assert_intact(train_dir)) >= STEPS - 3:
      shutil.rmtree(train_dir)  # Too near the end for another kill: start over.
    before = _step_of(_assert_intact(train_dir))
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if len(kills) % 2 == 0:
      ready = lambda: _saving(train_dir)
    else:
      delay = rng.uniform(0.0, 0.8)
      saved_at = []
      def ready():
        if not saved_at and _step_of(tf.train.latest_checkpoint(str(train_dir))) > before:
          saved_at.append(time.monotonic())
        return saved_at and time.monotonic() - saved_at[0] >= delay
    assert _kill_when(process, ready), 'the run finished before kill %d' % len(kills)
    newest = _assert_intact(train_dir)
    assert _step_of(newest) >= before  # A kill never costs a completed checkpoint.
    kills.append(_step_of(newest))
  final = subprocess.run(command, capture_output=True, text=True, timeout=600)
  assert final.returncode == 0, final.stderr
  newest = _assert_intact(train_dir)
  assert _step_of(newest) == STEPS
  assert not any('.tempstate' in name or '.tmp' in name for name in os.listdir(train_dir))

  reference = tmp_path / 'uninterrupted'
  subprocess.run(_train_command(signs_dir, reference, '--max_number_of_steps', STEPS),
                 check=True, capture_output=True, timeout=600)
  expected = _variables(tf.train.latest_checkpoint(str(reference)))
  resumed = _variables(newest)
  assert sorted(resumed) == sorted(expected)
  for name, value in expected.items():
    np.testing.assert_array_equal(resumed[name], value, err_msg=name)


def test_sigkill_at_random_moments_loses_no_completed_checkpoint(signs_dir, tmp_path):
  _kill_and_resume(signs_dir, tmp_path, num_kills=4, seed=7)


@pytest.mark.slow
def test_sigkill_soak(signs_dir, tmp_path):
  """The same, at 30 kill points (a few minutes)."""
  _kill_and_resume(signs_dir, tmp_path, num_kills=30, seed=11)


@pytest.mark.parametrize('signal_number', [signal.SIGTERM, signal.SIGINT])
def test_stop_signal_saves_and_exits(signs_dir, tmp_path, signal_number):
  train_dir = tmp_path / 'run'
  process = subprocess.Popen(_train_command(signs_dir, train_dir, '--num_epochs', 100),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
  # Until the first epoch's checkpoint; a starved start-up on a busy machine may take minutes.
  deadline = time.monotonic() + 600
  while tf.train.latest_checkpoint(str(train_dir)) is None and time.monotonic() < deadline:
    assert process.poll() is None, process.stderr.read()
    time.sleep(0.05)
  assert tf.train.latest_checkpoint(str(train_dir)), 'no checkpoint after 600 s'
  time.sleep(0.5)
  process.send_signal(signal_number)
  _, stderr = process.communicate(timeout=120)
  name = signal.Signals(signal_number).name
  assert process.returncode == 128 + signal_number, stderr
  assert stderr.startswith('stopped by %s at step ' % name), stderr
  newest = _assert_intact(train_dir)
  step = _step_of(newest)
  assert 'saved %s' % os.path.basename(newest) in stderr or 'step %d;' % step in stderr
  resumed = run_script('train_graph.py', '--dataset_dir', signs_dir, '--train_dir', train_dir,
                       *SMALL, '--max_number_of_steps', step + 1)
  assert 'resumed from %s' % newest in resumed.stdout


def _corrupt(prefix, damage):
  data = prefix + '.data-00000-of-00001'
  if damage == 'truncated data':
    with open(data, 'r+b') as stream:
      stream.truncate(os.path.getsize(data) // 2)
  elif damage == 'flipped bit in data':
    with open(data, 'r+b') as stream:
      stream.seek(os.path.getsize(data) // 3)
      byte = stream.read(1)
      stream.seek(-1, os.SEEK_CUR)
      stream.write(bytes([byte[0] ^ 0x04]))
  elif damage == 'truncated index':
    with open(prefix + '.index', 'r+b') as stream:
      stream.truncate(10)
  elif damage == 'missing data':
    os.remove(data)


def _file_bytes(folder):
  return {name: open(os.path.join(folder, name), 'rb').read()
          for name in os.listdir(folder) if os.path.isfile(os.path.join(folder, name))}


@pytest.fixture(scope='module')
def two_checkpoints(signs_dir, tmp_path_factory):
  """A train dir holding model.ckpt-1 and model.ckpt-2."""
  train_dir = tmp_path_factory.mktemp('two') / 'run'
  run_script('train_graph.py', '--dataset_dir', signs_dir, '--train_dir', train_dir, *SMALL,
             '--max_number_of_steps', 2, '--save_every_n_steps', 1)
  assert [_step_of(p) for p in checkpoints.listed_checkpoints(str(train_dir))] == [1, 2]
  return train_dir


@pytest.mark.parametrize('damage', ['truncated data', 'flipped bit in data',
                                    'truncated index', 'missing data'])
def test_evaluation_falls_back_from_a_damaged_newest_checkpoint(
    two_checkpoints, signs_dir, tmp_path, damage):
  train_dir = tmp_path / 'run'
  shutil.copytree(two_checkpoints, train_dir)
  _corrupt(str(train_dir / 'model.ckpt-2'), damage)
  before = _file_bytes(train_dir)
  result = run_script('eval_graph.py', '--checkpoint_path', train_dir, '--dataset_dir',
                      signs_dir, '--report', tmp_path / 'report.json')
  warning = result.stderr.strip()
  assert warning.startswith('warning: checkpoint %s is damaged (' % (train_dir / 'model.ckpt-2'))
  assert warning.endswith('; using %s instead' % (train_dir / 'model.ckpt-1'))
  assert read_json(tmp_path / 'report.json')['global_step'] == 1
  assert _file_bytes(train_dir) == before


def test_training_resumes_from_the_last_good_checkpoint(two_checkpoints, signs_dir, tmp_path):
  train_dir = tmp_path / 'run'
  shutil.copytree(two_checkpoints, train_dir)
  _corrupt(str(train_dir / 'model.ckpt-2'), 'flipped bit in data')
  result = run_script('train_graph.py', '--dataset_dir', signs_dir, '--train_dir', train_dir,
                      *SMALL, '--max_number_of_steps', 3, '--save_every_n_steps', 1)
  assert 'model.ckpt-2 is damaged' in result.stderr
  assert 'resumed from %s' % (train_dir / 'model.ckpt-1') in result.stdout
  assert _step_of(_assert_intact(train_dir)) == 3
  assert [_step_of(p) for p in checkpoints.listed_checkpoints(str(train_dir))] == [1, 2, 3]


@pytest.mark.parametrize('damage', ['garbage', 'missing'])
def test_a_lost_state_file_resumes_from_the_checkpoint_files(two_checkpoints, signs_dir,
                                                             tmp_path, damage):
  """A damaged or deleted 'checkpoint' state file does not restart the run from step 0."""
  train_dir = tmp_path / 'run'
  shutil.copytree(two_checkpoints, train_dir)
  state_file = train_dir / checkpoints.STATE_FILE
  if damage == 'missing':
    os.remove(state_file)
  else:
    state_file.write_bytes(b'model_checkpoint_path: \x00\xff garbage')
  result = run_script('train_graph.py', '--dataset_dir', signs_dir, '--train_dir', train_dir,
                      *SMALL, '--max_number_of_steps', 3, '--save_every_n_steps', 1)
  assert result.stderr == ('warning: %s is %s; using the checkpoints found by their files '
                           '(model.ckpt-1, model.ckpt-2)\n' % (state_file, damage.replace(
                               'garbage', 'damaged')))
  assert 'resumed from %s' % (train_dir / 'model.ckpt-2') in result.stdout
  assert [_step_of(p) for p in checkpoints.listed_checkpoints(str(train_dir))] == [1, 2, 3]
  _assert_intact(train_dir)


def test_no_readable_checkpoint_is_one_error_and_touches_nothing(two_checkpoints, signs_dir,
                                                                 tmp_path):
  train_dir = tmp_path / 'run'
  shutil.copytree(two_checkpoints, train_dir)
  _corrupt(str(train_dir / 'model.ckpt-1'), 'truncated index')
  _corrupt(str(train_dir / 'model.ckpt-2'), 'truncated data')
  before = _file_bytes(train_dir)
  for script, args in (('eval_graph.py', ['--checkpoint_path', train_dir, '--dataset_dir',
                                          signs_dir]),
                       ('train_graph.py', ['--dataset_dir', signs_dir, '--train_dir',
                                           train_dir] + SMALL)):
    result = run_script(script, *args, check=False)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith('error: %s: no readable checkpoint: model.ckpt-2 ('
                                    % train_dir), result.stderr
    assert 'model.ckpt-1 (' in result.stderr and result.stderr.count('\n') == 1
  assert _file_bytes(train_dir) == before


def test_a_damaged_checkpoint_named_explicitly_is_an_error(two_checkpoints, tmp_path):
  train_dir = tmp_path / 'run'
  shutil.copytree(two_checkpoints, train_dir)
  _corrupt(str(train_dir / 'model.ckpt-2'), 'flipped bit in data')
  result = run_script('eval_graph.py', '--checkpoint_path', train_dir / 'model.ckpt-2',
                      '--images', os.path.join(ROOT, 'docs', 'heatmap.png'), check=False)
  assert result.returncode == 2
  assert result.stderr.startswith('error: --checkpoint_path %s: damaged checkpoint ('
                                  % (train_dir / 'model.ckpt-2'))
  assert 'Checksum does not match' in result.stderr and result.stderr.count('\n') == 1


def _nan_run(signs_dir, train_dir, nan_step):
  """Trains in-process on data whose image at ``nan_step``'s batch is all NaN."""
  settings = train_cli.settings_of(
      ['--dataset_dir', signs_dir, '--train_dir', str(train_dir), '--max_number_of_steps',
       str(nan_step + 3), '--save_every_n_steps', '1'] + SMALL)
  data = datasets.training_data(signs_dir)
  from legacy_resnet.data import batching
  poisoned = batching.batch_indices(data.num_train, 10, settings.data.seed, nan_step - 1)[0]
  data.train.images[poisoned] = np.nan
  os.makedirs(train_dir)
  return settings, data, training.run_metadata(settings, data)


def test_nan_loss_stops_at_its_step_and_keeps_the_last_good_checkpoint(signs_dir, tmp_path):
  train_dir = tmp_path / 'run'
  with pytest.raises(UsageError, match=r'^loss became nan at step 4; the last checkpoint'):
    training.train(*_nan_run(signs_dir, train_dir, nan_step=4))
  newest = _assert_intact(train_dir)
  assert _step_of(newest) == 3
  for value in _variables(newest).values():
    assert np.all(np.isfinite(value))


def test_non_finite_variables_are_never_saved(signs_dir, tmp_path):
  settings, data, metadata = _nan_run(signs_dir, tmp_path / 'run', 99)
  trainer = training.Trainer(settings, data, metadata, None)
  with trainer.graph.as_default():
    trainer.session.run(trainer.tensors.initializer)
    trainer.save(1)
    weights = trainer.saved_variables['resnet_v1_18/logits/weights']
    weights.load(np.full(weights.shape, np.inf, np.float32), trainer.session)
    with pytest.raises(UsageError, match='variables became NaN or infinite by step 2; not saved'):
      trainer.save(2)
  trainer.close()
  listed = checkpoints.listed_checkpoints(str(tmp_path / 'run'))
  assert [os.path.basename(prefix) for prefix in listed] == ['model.ckpt-1']


def _limited_run(command, file_size_limit=None, drop_root_override=False):
  """Runs ``command`` with files capped at ``file_size_limit`` bytes (a full disk), or
  without root's power to write into read-only folders."""
  if drop_root_override and os.geteuid() == 0:
    command = ['setpriv', '--bounding-set', '-dac_override,-dac_read_search,-fowner',
               '--'] + command

  def limit():
    if file_size_limit:
      resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

  return subprocess.run(command, capture_output=True, text=True, timeout=600, preexec_fn=limit)


def test_full_disk_is_one_error_and_keeps_the_checkpoints(two_checkpoints, signs_dir,
                                                          tmp_path):
  train_dir = tmp_path / 'run'
  shutil.copytree(two_checkpoints, train_dir)
  before = _file_bytes(train_dir)
  result = _limited_run(_train_command(signs_dir, train_dir, '--max_number_of_steps', 3),
                        file_size_limit=4 << 20)
  assert result.returncode == 2, result.stderr
  assert result.stderr.startswith('error: --train_dir %s: cannot save a checkpoint: '
                                  % train_dir), result.stderr
  assert 'File too large' in result.stderr and result.stderr.count('\n') == 1
  after = _file_bytes(train_dir)
  metadata = checkpoints.METADATA_FILE
  assert {name: after[name] for name in before if name != metadata} == {
      name: data for name, data in before.items() if name != metadata}
  # The longer run started: its metadata no longer says the run has ended, and no more.
  ended = read_json(two_checkpoints / metadata)
  del ended['ended']
  assert read_json(train_dir / metadata) == ended
  assert _step_of(_assert_intact(train_dir)) == 2


def test_read_only_train_dir_is_one_error_and_touches_nothing(two_checkpoints, signs_dir,
                                                              tmp_path):
  train_dir = tmp_path / 'run'
  shutil.copytree(two_checkpoints, train_dir)
  before = _file_bytes(train_dir)
  modes = {}
  for folder, _, names in os.walk(train_dir):
    for path in [folder] + [os.path.join(folder, name) for name in names]:
      modes[path] = os.stat(path).st_mode
      os.chmod(path, modes[path] & 0o555)
  try:
    result = _limited_run(_train_command(signs_dir, train_dir, '--max_number_of_steps', 3),
                          drop_root_override=True)
  finally:
    for path, mode in modes.items():
      os.chmod(path, mode)
  assert result.returncode == 2, result.stderr
  assert result.stderr.startswith('error: %s' % train_dir), result.stderr
  assert 'Permission denied' in result.stderr and result.stderr.count('\n') == 1
  assert _file_bytes(train_dir) == before
