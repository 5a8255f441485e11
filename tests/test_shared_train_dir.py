"""One train dir, many processes (issue 29), with real trainers as subprocesses: one
writer at a time (the lock, taken over from a killed holder), readers that never trip
over a trainer pruning its checkpoints, an evaluator that follows a run
(``eval_graph.py --watch``), and a full disk that heals once space is freed."""

import glob
import os
import re
import signal
import socket
import subprocess
import sys
import time

import h5py
import netutil
import numpy as np
import pytest
import tensorflow as tf
from scriptutil import ROOT
from scriptutil import read_json
from scriptutil import run_script

from legacy_resnet.checkpointing import checkpoints
from legacy_resnet.checkpointing import train_dir_lock
from legacy_resnet.evaluate import evaluation
from legacy_resnet.evaluate import watch
from legacy_resnet.core.errors import SettingError

pytestmark = netutil.QUIET

# 6 steps per epoch on the 54 training images; SGD keeps a checkpoint at 45 MB.
SMALL = ['--model_name', 'resnet_v1_18', '--batch_size', '10', '--optimizer', 'sgd']


def _train_command(signs_dir, train_dir, *extra):
  return [sys.executable, os.path.join(ROOT, 'train_graph.py'), '--dataset_dir', signs_dir,
          '--train_dir', str(train_dir)] + SMALL + [str(arg) for arg in extra]


def _newest_step(train_dir):
  """The step of the checkpoint the state file names (from its name: a trainer may
  delete it at any moment)."""
  prefix = tf.train.latest_checkpoint(str(train_dir))
  return -1 if prefix is None else int(prefix.rsplit('-', 1)[1])


def _wait_until(process, condition, timeout=300):
  """Polls ``condition`` while ``process`` runs; fails if it ends or time runs out."""
  deadline = time.monotonic() + timeout
  while not condition():
    assert process.poll() is None, 'the process ended first (exit %s)' % process.returncode
    assert time.monotonic() < deadline, 'timed out'
    time.sleep(0.05)


def _variables(prefix):
  reader = tf.train.load_checkpoint(prefix)
  return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


def test_a_second_trainer_is_refused_and_a_killed_holders_lock_is_taken_over(signs_dir,
                                                                             tmp_path):
  train_dir = tmp_path / 'run'
  command = _train_command(signs_dir, train_dir, '--max_number_of_steps', 8,
                           '--save_every_n_steps', 1)
  holder = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  try:
    _wait_until(holder, lambda: _newest_step(train_dir) >= 2)
    os.kill(holder.pid, signal.SIGSTOP)  # Alive and holding the lock, but saving no more.
    record = read_json(train_dir / train_dir_lock.LOCK_FILE)
    second = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert second.returncode == 2, second.stderr
    assert second.stderr == (
        'error: --train_dir %s is being trained by another process (host %s, process %d, '
        'started %s); wait for it to end or stop it, or use another --train_dir\n'
        % (train_dir, socket.gethostname(), holder.pid, record['started']))
  finally:
    holder.kill()  # SIGKILL: the holder has no chance to release anything.
    holder.wait()
  killed_at = tf.train.latest_checkpoint(str(train_dir))
  resumed = subprocess.run(command, capture_output=True, text=True, timeout=600)
  assert resumed.returncode == 0, resumed.stderr
  assert ('taking over the lock of %s from a process that is gone (host %s, process %d, '
          'started %s)' % (train_dir, socket.gethostname(), holder.pid, record['started'])
          in resumed.stdout)
  assert 'resumed from %s' % killed_at in resumed.stdout
  assert _newest_step(train_dir) == 8
  # Exactly where an uninterrupted run ends.
  reference = tmp_path / 'uninterrupted'
  subprocess.run(_train_command(signs_dir, reference, '--max_number_of_steps', 8),
                 check=True, capture_output=True, timeout=600)
  expected = _variables(tf.train.latest_checkpoint(str(reference)))
  got = _variables(tf.train.latest_checkpoint(str(train_dir)))
  assert sorted(got) == sorted(expected)
  for name, value in expected.items():
    np.testing.assert_array_equal(got[name], value, err_msg=name)


def test_readers_restore_the_newest_complete_checkpoint_while_a_trainer_prunes(
    signs_dir, tmp_path, capsys):
  """The eval path's restore (``RestoredClassifier.restore`` of a train dir), 20 times
  in this process while a trainer saves every step and keeps 2 checkpoints; each read
  waits for a checkpoint newer than the last one read, so that all 20 meet the trainer
  saving and deleting. Then one read that the trainer is sure to overtake."""
  train_dir = tmp_path / 'run'
  trainer = subprocess.Popen(
      _train_command(signs_dir, train_dir, '--max_number_of_steps', 500, '--save_every_n_steps',
                     1, '--max_to_keep', 2),
      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  try:
    _wait_until(trainer, lambda: _newest_step(train_dir) >= 1)
    classifier = evaluation.RestoredClassifier(str(train_dir))
    steps = []
    try:
      for _ in range(20):
        _wait_until(trainer, lambda: _newest_step(train_dir) > (steps[-1] if steps else 0))
        prefix = classifier.restore(str(train_dir))
        # The prefix restored is the one read whole, and its step is the one restored.
        assert int(prefix.rsplit('-', 1)[1]) == classifier.global_step
        steps.append(classifier.global_step)
    finally:
      classifier.close()
    assert trainer.poll() is None, 'the trainer ended before the last read'
    for line in capsys.readouterr().err.splitlines():
      # The only thing a reader may say: which checkpoint it took instead of a deleted one.
      assert re.match(r'warning: checkpoint \S+ was deleted by its trainer while being read; '
                      r'using \S+, the newest complete one$', line), line

    # A read slow enough for the trainer to delete its checkpoint half-way through.
    attempts = []

    def slow_restore(prefix):
      attempts.append(prefix)
      if len(attempts) == 1:
        _wait_until(trainer, lambda: not os.path.exists(prefix + '.index'))
      checkpoints.global_step(prefix)  # Reads the checkpoint's files.

    restored = checkpoints.restore_newest(str(train_dir), slow_restore)
    assert len(attempts) == 2 and restored == attempts[1]
    assert capsys.readouterr().err == (
        'warning: checkpoint %s was deleted by its trainer while being read; using %s, the '
        'newest complete one\n' % tuple(attempts))
  finally:
    trainer.kill()
    trainer.wait()
  assert steps == sorted(set(steps)), steps  # A newer checkpoint each time.


def _eval_scalars(train_dir, tag):
  """{step: [values]} of ``tag`` in the event files of <train_dir>/eval."""
  points = {}
  for path in glob.glob(os.path.join(train_dir, watch.EVAL_SUBDIR, 'events.out.tfevents.*')):
    for event in tf.compat.v1.train.summary_iterator(path):
      for value in event.summary.value:
        if value.tag == tag:
          points.setdefault(event.step, []).append(value.simple_value)
  return points


def test_watch_evaluates_each_checkpoint_once_and_stops_when_training_ends(signs_dir, tmp_path):
  train_dir = tmp_path / 'run'
  watch_command = [sys.executable, os.path.join(ROOT, 'eval_graph.py'), '--checkpoint_path',
                   str(train_dir), '--watch', '--split', 'validation', '--report',
                   str(tmp_path / 'report.json'), '--watch_timeout', '300']
  # Started first: it waits for the run.
  watcher = subprocess.Popen(watch_command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
  run_script('train_graph.py', *_train_command(signs_dir, train_dir, '--max_number_of_steps', 7,
                                               '--save_every_n_steps', 1,
                                               '--max_to_keep', 10)[2:])
  out, err = watcher.communicate(timeout=600)
  assert watcher.returncode == 0, err
  assert 'training ended at global step 7; 7 checkpoints evaluated' in out
  evaluated = read_json(train_dir / watch.EVAL_SUBDIR / watch.EVALUATED_FILE)['evaluated']
  assert [entry['checkpoint'] for entry in evaluated] == ['model.ckpt-%d' % step
                                                          for step in range(1, 8)]
  points = _eval_scalars(train_dir, 'validation/accuracy')
  assert sorted(points) == list(range(1, 8)) and all(len(v) == 1 for v in points.values())
  # The evaluator's last point is the trainer's own validation result of that step.
  metadata = read_json(train_dir / checkpoints.METADATA_FILE)
  assert metadata['ended']['global_step'] == 7
  assert points[7][0] == pytest.approx(metadata['last_eval']['accuracy'])
  assert read_json(tmp_path / 'report.json')['global_step'] == 7
  # --split reaches the other readers too: the 6 validation images, not the 30 test ones.
  run_script('eval_graph.py', '--checkpoint_path', train_dir, '--split', 'validation',
             '--dense_features', tmp_path / 'features.h5')
  with h5py.File(tmp_path / 'features.h5', 'r') as features:
    assert len(features['labels']) == 6

  # Restarted, it remembers what it evaluated: nothing is evaluated twice.
  again = subprocess.run(watch_command, capture_output=True, text=True, timeout=600)
  assert again.returncode == 0 and '0 checkpoints evaluated' in again.stdout, again.stderr
  assert _eval_scalars(train_dir, 'validation/accuracy') == points

  # A run that has not ended (here: a new, longer one) is waited for --watch_timeout.
  del metadata['ended']
  checkpoints.write_metadata(str(train_dir), metadata)
  timed_out = subprocess.run(watch_command[:-1] + ['1'], capture_output=True, text=True,
                             timeout=600)
  assert timed_out.returncode == 0, timed_out.stderr
  assert 'no new checkpoint for 1 seconds; stopping (0 evaluated)' in timed_out.stdout


@pytest.fixture
def small_filesystem(tmp_path):
  """A 160 MiB tmpfs (needs root and mount; skipped where the sandbox refuses it)."""
  folder = tmp_path / 'small'
  folder.mkdir()
  if os.geteuid() != 0:
    pytest.skip('mounting a tmpfs needs root')
  mounted = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=160m', 'tmpfs', str(folder)],
                           capture_output=True, text=True)
  if mounted.returncode:
    pytest.skip('cannot mount a tmpfs here: %s' % mounted.stderr.strip())
  yield folder
  subprocess.run(['umount', str(folder)], check=True)


def test_a_full_disk_leaves_no_partial_file_and_the_rerun_finishes(signs_dir, small_filesystem):
  """On a real full filesystem: 80 MiB of filler leave room for one 45 MB checkpoint but
  not a second; once the filler is deleted, the same command resumes and finishes."""
  filler = small_filesystem / 'filler'
  subprocess.run(['fallocate', '-l', '80M', str(filler)], check=True)
  train_dir = small_filesystem / 'run'
  command = _train_command(signs_dir, train_dir, '--max_number_of_steps', 4,
                           '--save_every_n_steps', 1, '--max_to_keep', 1)
  full = subprocess.run(command, capture_output=True, text=True, timeout=600)
  assert full.returncode == 2, full.stderr
  warning, error = full.stderr.splitlines()
  assert warning.startswith('warning: %s may run out of space: the 1 latest checkpoints '
                            'kept, the one being saved and best/ need ' % train_dir), warning
  assert error.startswith('error: --train_dir %s: cannot save a checkpoint: ' % train_dir)
  assert 'No space left on device' in error
  needed, free = map(float, re.search(r'\(a checkpoint needs ([\d.]+) MB, ([\d.]+) MB are '
                                      r'free\)', error).groups())
  data_file = train_dir / 'model.ckpt-1.data-00000-of-00001'
  assert needed == pytest.approx(os.path.getsize(data_file) / 1e6, abs=0.1) and free < needed
  assert error.endswith('partial files removed, model.ckpt-1 stays the latest'), error
  # No partial file; the state file names the last good checkpoint, which reads whole.
  assert sorted(name for name in os.listdir(train_dir) if 'model.ckpt' in name) == [
      'model.ckpt-1.data-00000-of-00001', 'model.ckpt-1.index', 'model.ckpt-1.meta']
  assert not any('tmp' in name or 'tempstate' in name for name in os.listdir(train_dir))
  assert checkpoints.listed_checkpoints(str(train_dir)) == [str(train_dir / 'model.ckpt-1')]
  assert checkpoints.unreadable_because(str(train_dir / 'model.ckpt-1')) is None

  os.remove(filler)
  healed = subprocess.run(command, capture_output=True, text=True, timeout=600)
  assert healed.returncode == 0, healed.stderr
  assert 'resumed from %s' % (train_dir / 'model.ckpt-1') in healed.stdout
  assert _newest_step(train_dir) == 4


@pytest.mark.parametrize('args, message', [
    (['--watch', '--images', 'a.png'], '--watch evaluates; it does not go with --images'),
    (['--watch_timeout', '5'], '--watch_timeout goes with --watch'),
    (['--watch', '--runtime', 'onnxruntime'],
     '--watch runs TensorFlow; it does not go with --runtime onnxruntime'),
    (['--split', 'validation', '--dataset_file', 'x.h5'],
     "--split validation is the run's own data; it does not go with --dataset_dir, "
     '--dataset_file or --images'),
])
def test_watch_and_split_refusals_are_one_line(tmp_path, args, message):
  result = run_script('eval_graph.py', '--checkpoint_path', tmp_path, *args, check=False)
  assert result.returncode == 2
  assert result.stderr == 'error: %s\n' % message


def test_watch_of_a_checkpoint_file_and_split_of_a_run_without_one_are_refused(signs_dir,
                                                                               tmp_path):
  train_dir = tmp_path / 'run'
  run_script('train_graph.py', *_train_command(signs_dir, train_dir, '--max_number_of_steps', 1,
                                               '--validation_split', 0)[2:])
  prefix = train_dir / 'model.ckpt-1'
  result = run_script('eval_graph.py', '--checkpoint_path', prefix, '--watch', check=False)
  assert result.returncode == 2
  assert result.stderr == ('error: --watch follows a train dir; --checkpoint_path %s is not '
                           'a folder\n' % prefix)
  result = run_script('eval_graph.py', '--checkpoint_path', train_dir, '--split', 'validation',
                      check=False)
  assert result.returncode == 2
  assert result.stderr == ('error: --split validation: the run held out no validation split '
                           '(it trained with --validation_split 0, or before validation splits '
                           'existed)\n')


def test_the_lock_refuses_a_second_holder_and_leaves_nothing_behind(tmp_path):
  path = tmp_path / train_dir_lock.LOCK_FILE
  with train_dir_lock.held(str(tmp_path)):
    assert read_json(path)['pid'] == os.getpid()
    with pytest.raises(SettingError, match='process %d' % os.getpid()):
      with train_dir_lock.held(str(tmp_path)):
        pass
  assert not os.listdir(tmp_path)  # The holder's clean end removes the lock file.
  taken_over = []
  path.write_text('{"host": "gone", "pid": 1, "started": "then"}')  # As SIGKILL leaves it.
  with train_dir_lock.held(str(tmp_path), log=taken_over.append):
    pass
  assert taken_over == ['taking over the lock of %s from a process that is gone '
                        '(host gone, process 1, started then)' % tmp_path]
