"""Between-graph replication: a parameter server and two workers on 127.0.0.1 as real
processes (synchronous and asynchronous), a restarted worker rejoining, and every
malformed cluster description refused in one line."""

import json
import os
import re
import signal
import socket
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
from legacy_resnet.core import cli
from legacy_resnet.core.errors import UsageError
from legacy_resnet.data import datasets
from legacy_resnet.programs import train_cli
from legacy_resnet.scale_out import cluster
from legacy_resnet.scale_out import launch_local

pytestmark = netutil.QUIET

CLUSTER_SECS = 240  # A hang fails the test instead of stalling the suite.
SMALL = ['--model_name', 'resnet_v1_18', '--batch_size', '6']


def _launch(signs_dir, train_dir, *extra, workers=2):
  """Runs launch_local with 1 ps and ``workers`` workers; returns (CompletedProcess,
  seconds)."""
  argv = [sys.executable, '-m', 'legacy_resnet.scale_out.launch_local', '--ps', '1', '--workers',
          str(workers), '--timeout', str(CLUSTER_SECS), '--', '--dataset_dir', signs_dir,
          '--train_dir', str(train_dir)] + SMALL + [str(arg) for arg in extra]
  start = time.monotonic()
  result = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT,
                          timeout=CLUSTER_SECS + 30)
  return result, time.monotonic() - start


@pytest.mark.parametrize('mode,steps', [
    ('--sync_replicas', 24),
    pytest.param('--no-sync_replicas', 12, marks=pytest.mark.slow),  # ~60 s, mostly start-up
])
def test_one_ps_two_workers_train_to_a_checkpoint_eval_restores(signs_dir, tmp_path, mode,
                                                                steps):
  train_dir = tmp_path / 'train'
  result, seconds = _launch(signs_dir, train_dir, '--max_number_of_steps', steps, mode)
  assert result.returncode == 0, result.stdout + result.stderr
  assert seconds < CLUSTER_SECS
  lines = result.stdout.splitlines()
  assert '[ps:0] ps 0: all 2 worker(s) finished; exiting' in lines
  # Both workers took part; asynchronous ones at their own pace (the chief's first step
  # also initializes and saves, so the other worker may do nearly all the steps).
  fewest = 3 if mode == '--sync_replicas' else 1
  for index in (0, 1):
    done = [re.search(r'done at global step \d+ \((\d+) steps', line) for line in lines
            if line.startswith('[worker:%d] worker %d' % (index, index))]
    assert any(match and int(match.group(1)) >= fewest for match in done), result.stdout
  assert 'Traceback' not in result.stdout + result.stderr
  # The chief evaluates every epoch on the validation split and keeps best/ by it.
  assert any(re.match(r'\[worker:0\] epoch 1 step \d+: validation accuracy', line)
             for line in lines), result.stdout
  metadata = read_json(train_dir / checkpoints.METADATA_FILE)
  assert metadata['best']['split'] == metadata['last_eval']['split'] == 'validation'
  assert (train_dir / (metadata['best']['checkpoint'] + '.index')).exists()
  report = tmp_path / 'report.json'
  evaluated_by = run_script('eval_graph.py', '--checkpoint_path', train_dir, '--report', report)
  evaluated = read_json(report)
  assert evaluated['num_examples'] == 30
  assert evaluated['global_step'] >= steps  # Asynchronous workers may overshoot a little.
  recorded = read_json(train_dir / 'legacy_resnet.json')
  assert recorded['test']['global_step'] == evaluated['global_step']
  # The chief fits the calibration on the validation split, as a one-process run does.
  assert recorded['calibration']['fitted_on'] == 'validation'
  held_out = datasets.training_data(signs_dir, 0.1, 0).held_out  # The defaults' split.
  assert recorded['calibration']['num_examples'] == len(held_out.labels)
  assert evaluated['calibration']['temperature'] == recorded['calibration']['temperature']
  assert 'has no calibration' not in evaluated_by.stderr


def _start(argv):
  return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          cwd=ROOT)


def _wait_all(processes, timeout):
  """The outputs of ``processes`` once all have ended; those still running after
  ``timeout`` seconds are killed (their output so far kept)."""
  deadline = time.monotonic() + timeout
  outputs = []
  for process in processes:
    try:
      outputs.append(process.communicate(timeout=max(0.1, deadline - time.monotonic()))[0])
    except subprocess.TimeoutExpired:
      process.kill()
      outputs.append(process.communicate()[0])
  return outputs


@pytest.mark.slow
@pytest.mark.parametrize('victim', ['worker:1', 'worker:0'])
def test_a_killed_worker_restarted_with_the_same_command_rejoins(signs_dir, tmp_path, victim):
  train_dir = tmp_path / 'train'
  flags = ['--dataset_dir', signs_dir, '--train_dir', str(train_dir), '--max_number_of_steps',
           '30', '--save_every_n_steps', '5'] + SMALL
  commands = dict(launch_local.commands(1, 2, flags))
  processes = {name: _start(argv) for name, argv in commands.items() if name != victim}
  first = _start(commands[victim])
  try:
    deadline = time.monotonic() + CLUSTER_SECS
    # Killed once the chief has saved a checkpoint, i.e. while training is under way.
    while not (train_dir / 'checkpoint').exists() and time.monotonic() < deadline:
      time.sleep(0.2)
    first.kill()
    assert first.wait() == -signal.SIGKILL  # Killed, not finished.
    processes[victim] = _start(commands[victim])
  finally:
    outputs = dict(zip(processes, _wait_all(list(processes.values()), CLUSTER_SECS)))
  assert {name: process.returncode for name, process in processes.items()} == {
      name: 0 for name in commands}, '\n'.join(outputs.values())
  assert 'worker 1: done at global step 30' in outputs['worker:1']
  assert 'final test accuracy' in outputs['worker:0']
  if victim == 'worker:0':
    assert 'chief: resuming from' in outputs['worker:0']
  assert checkpoints.global_step(checkpoints.newest_readable(str(train_dir))) == 30


def _checkpoint_values(train_dir):
  """{checkpoint prefix: {variable: value}} of every checkpoint under ``train_dir``."""
  found = {}
  for index in train_dir.rglob('*.index'):
    prefix = str(index)[:-len('.index')]
    reader = tf.train.load_checkpoint(prefix)
    found[prefix] = {name: reader.get_tensor(name)
                     for name in reader.get_variable_to_shape_map()}
  return found


def test_a_nan_at_the_chief_stops_it_with_an_error_and_no_checkpoint_holds_one(signs_dir,
                                                                               tmp_path):
  """The chief's batches turn NaN from step 3 on (54 images, 12 a step: 4 steps per
  epoch); checkpoints saved before it, every one of them finite."""
  train_dir = tmp_path / 'train'
  flags = ['--dataset_dir', signs_dir, '--train_dir', str(train_dir), '--max_number_of_steps',
           '8', '--save_every_n_steps', '1'] + SMALL
  commands = dict(launch_local.commands(1, 2, flags))
  commands['worker:0'][1:1] = [os.path.join(ROOT, 'tests', 'nan_batches_child.py'), '3']
  processes = {name: _start(argv) for name, argv in commands.items()}
  try:
    chief_output = _wait_all([processes['worker:0']], CLUSTER_SECS)[0]
  finally:
    _wait_all(list(processes.values()), 0)  # The others would wait for the chief forever.
  assert processes['worker:0'].returncode == 2, chief_output
  # Caught at the step, before the next save's check of all variables: by the loss, or
  # (a fused ReLU can turn NaN activations into zeros) by the batch-norm statistics.
  assert re.search(r'^error: loss became nan at step \d+; the last checkpoint in %s is kept '
                   r'\(try a lower --learning_rate\)\n\Z' % re.escape(str(train_dir)),
                   chief_output, re.MULTILINE), chief_output
  saved = _checkpoint_values(train_dir)
  assert saved, chief_output
  for prefix, values in saved.items():
    for name, value in values.items():
      assert np.all(np.isfinite(value)), (prefix, name)


@pytest.mark.parametrize('argv,environment,message', [
    (['--job_name', 'worker'], None, '--ps_hosts: required with --job_name'),
    (['--ps_hosts', 'a:1'], None, '--job_name: required'),
    (['--ps_hosts', 'a:1', '--worker_hosts', 'b:1', '--job_name', 'boss'], None,
     "--job_name: 'boss' is neither ps nor worker"),
    (['--ps_hosts', 'localhost', '--worker_hosts', 'b:1', '--job_name', 'ps'], None,
     "--ps_hosts: 'localhost' is not a host:port address"),
    (['--ps_hosts', 'a:1', '--worker_hosts', 'b:70000', '--job_name', 'ps'], None,
     "--worker_hosts: 'b:70000' is not a host:port address"),
    (['--ps_hosts', 'a:1', '--worker_hosts', 'b:1,b:1', '--job_name', 'ps'], None,
     '--worker_hosts: address b:1 is listed twice'),
    (['--ps_hosts', 'a:1', '--worker_hosts', 'a:1', '--job_name', 'ps'], None,
     'address a:1 is both a ps and a worker'),
    (['--ps_hosts', 'a:1', '--worker_hosts', 'b:1,c:1', '--job_name', 'worker',
      '--task_index', '2'], None,
     "--task_index: task index 2 is out of range for job 'worker' with 2 task(s)"),
    (['--ps_hosts', 'a:1', '--worker_hosts', 'b:1', '--job_name', 'worker',
      '--num_clones', '2', '--clone_on_cpu'], None, '--num_clones 2: in-graph clones'),
    (['--ps_hosts', 'a:1', '--worker_hosts', 'b:1', '--job_name', 'worker',
      '--replicas_to_aggregate', '2'], None,
     '--replicas_to_aggregate 2: more than the 1 worker(s)'),
    ([], '{"cluster": ', 'TF_CONFIG is not valid JSON'),
    ([], '[1]', 'TF_CONFIG: the value must be a JSON object'),
    ([], '{"cluster": {"worker": ["b:1"]}, "task": {"type": "worker", "index": 0}}',
     'TF_CONFIG: parameter-server training needs at least one ps address'),
    ([], '{"cluster": {"ps": ["a:1"], "worker": ["b:1"]}, "task": {"type": "worker", '
     '"index": 1}}', "TF_CONFIG: task index 1 is out of range for job 'worker'"),
    ([], '{"cluster": {"ps": ["a:1"], "evaluator": ["b:1"]}, "task": {"type": "ps"}}',
     "TF_CONFIG: job 'evaluator' is not supported"),
    ([], '{"cluster": {"ps": ["a:1"], "worker": ["b:1"]}, "task": {"type": "chef"}}',
     "TF_CONFIG: task type 'chef' is not a job of the cluster"),
    ([], '{"cluster": {"ps": ["a:1"], "worker": ["b:1"]}}',
     'TF_CONFIG: "task" must be a JSON object'),
    (['--ps_hosts', 'a:1', '--worker_hosts', 'b:1', '--job_name', 'ps'],
     '{"cluster": {"ps": ["a:1"], "worker": ["b:1"]}, "task": {"type": "ps"}}',
     'both --ps_hosts/--worker_hosts/--job_name/--task_index and TF_CONFIG'),
])
def test_a_malformed_cluster_is_one_error_line(argv, environment, message, capsys,
                                               monkeypatch, tmp_path):
  if environment is None:
    monkeypatch.delenv('TF_CONFIG', raising=False)
  else:
    monkeypatch.setenv('TF_CONFIG', environment)
  status = cli.run(train_cli.main, argv + ['--train_dir', str(tmp_path / 'train')])
  err = capsys.readouterr().err
  assert status == 2
  assert err.count('\n') == 1 and err.startswith('error: '), err
  assert message in err
  assert not (tmp_path / 'train').exists()


def test_train_graph_refuses_a_bad_tf_config_in_one_line(tmp_path, monkeypatch):
  monkeypatch.setenv('TF_CONFIG', '{"cluster": {"ps": "a:1"')
  result = _train_graph('--train_dir', tmp_path / 'train')
  assert result.returncode == 2
  assert result.stderr.startswith('error: TF_CONFIG is not valid JSON')
  assert result.stderr.count('\n') == 1


def test_tf_config_chief_is_worker_zero_and_workers_follow():
  spec = {'chief': ['c:1'], 'worker': ['w:1', 'w:2'], 'ps': ['p:1', 'p:2']}
  for kind, index, expected in (('chief', 0, ('worker', 0)), ('worker', 1, ('worker', 2)),
                                ('ps', 1, ('ps', 1))):
    task = cluster.from_tf_config(json.dumps({'cluster': spec,
                                              'task': {'type': kind, 'index': index}}))
    assert (task.job_name, task.task_index) == expected
    assert task.worker_hosts == ['c:1', 'w:1', 'w:2'] and task.ps_hosts == ['p:1', 'p:2']
  assert cluster.is_chief(cluster.from_tf_config(json.dumps(
      {'cluster': spec, 'task': {'type': 'chief', 'index': 0}})))
  assert cluster.from_tf_config('{}') is None


def test_flags_describe_the_same_cluster_as_tf_config():
  task = cluster.from_flags('p:1', 'c:1, w:1', 'worker', 1)
  assert task == cluster.from_tf_config(json.dumps({
      'cluster': {'ps': ['p:1'], 'worker': ['c:1', 'w:1']},
      'task': {'type': 'worker', 'index': 1}}))
  assert cluster.from_flags(None, None, None, None) is None
  with pytest.raises(UsageError, match='^task_index: task index -1'):
    cluster.from_flags('p:1', 'c:1', 'worker', -1)


def test_workers_sharing_a_step_draw_disjoint_parts_of_one_batch():
  from legacy_resnet.data import batching
  one = batching.batch_indices(60, 12, seed=0, step=3)
  parts = [batching.batch_indices(60, 6, seed=0, step=3, shard=(index, 2)) for index in (0, 1)]
  assert list(one) == list(parts[0]) + list(parts[1])


def test_the_launcher_uses_loopback_ports_and_sets_the_cluster_flags_itself(capsys):
  commands = launch_local.commands(1, 2, ['--batch_size', '4'])
  assert [name for name, _ in commands] == ['ps:0', 'worker:0', 'worker:1']
  hosts = commands[0][1][commands[0][1].index('--worker_hosts') + 1].split(',')
  assert len(hosts) == 2 and all(host.startswith('127.0.0.1:') for host in hosts)
  assert commands[2][1][-4:] == ['--job_name', 'worker', '--task_index', '1']
  assert launch_local.main(['--', '--job_name', 'ps']) == 2
  assert capsys.readouterr().err == (
      'error: --job_name: the launcher sets the cluster flags itself\n')


def test_the_launcher_timeout_stops_the_cluster_and_names_what_was_running(tmp_path):
  result = subprocess.run(
      [sys.executable, '-m', 'legacy_resnet.scale_out.launch_local', '--ps', '1', '--workers', '1',
       '--timeout', '1', '--', '--train_dir', str(tmp_path / 'train')],
      capture_output=True, text=True, cwd=ROOT, timeout=300)
  assert result.returncode == launch_local.EXIT_FAILED, result.stderr
  assert result.stderr.strip().splitlines()[-1] == (
      'error: --timeout 1: ps:0, worker:0 still running; stopped the cluster')
  assert not (tmp_path / 'train' / 'checkpoint').exists()


def _train_graph(*args):
  return subprocess.run([sys.executable, os.path.join(ROOT, 'train_graph.py')] +
                        [str(arg) for arg in args], capture_output=True, text=True, cwd=ROOT,
                        timeout=120)


def test_a_ps_whose_workers_never_come_gives_up_after_its_time_limit():
  ps = dict(launch_local.commands(1, 1, ['--ps_timeout_secs', '1']))['ps:0']
  start = time.monotonic()
  result = subprocess.run(ps, capture_output=True, text=True, cwd=ROOT, timeout=120)
  assert result.returncode == 2
  warning, error = result.stderr.splitlines()
  assert warning.startswith('warning: port %s is open on every network interface'
                            % ps[ps.index('--ps_hosts') + 1].rsplit(':', 1)[1])
  assert error == 'error: --ps_timeout_secs 1: ps 0 gave up waiting for worker(s) 0'
  assert time.monotonic() - start < 60


def test_an_address_in_use_is_one_error_line():
  with socket.socket() as taken:
    taken.bind((launch_local.LOOPBACK, 0))
    taken.listen()
    address = '%s:%d' % taken.getsockname()
    result = _train_graph('--ps_hosts', address, '--worker_hosts', '127.0.0.1:1',
                          '--job_name', 'ps')
  assert result.returncode == 2
  assert result.stderr == ('error: --ps_hosts: cannot serve %s as ps 0: Could not start '
                           'gRPC server\n' % address)
