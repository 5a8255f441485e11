"""bench/benchmark.py end to end on a tiny configuration (ours against a variant of
ours; the peers' code runs in the full benchmark): every contender process answers,
the results are written as JSON and Markdown, memory does not grow; bad flags are one
error line."""

import json
import os
import subprocess
import sys

import pytest
from scriptutil import ROOT

from bench import benchmark


@pytest.mark.slow  # About 2 minutes on the 2-core machine (three TensorFlow processes).
def test_quick_benchmark_writes_json_and_markdown(signs_dir, tmp_path):
  output = tmp_path / 'results'
  scratch = tmp_path / 'tmp'
  scratch.mkdir()
  command = [sys.executable, '-m', 'bench.benchmark', '--quick',
             '--model_name', 'resnet_v1_18', '--image_size', '32', '--batch_size', '8',
             '--rounds', '2', '--steps', '2', '--warmup', '1', '--contenders', 'ours',
             '--startup_runs', '1', '--startup_dataset_dir', signs_dir,
             '--variant', 'inter1=--num_inter_threads 1', '--emulate_avx2',
             '--output_dir', str(output)]
  result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=900,
                          env=dict(os.environ, TMPDIR=str(scratch)))
  assert result.returncode == 0, result.stdout + result.stderr
  assert not list(scratch.iterdir())  # Checkpoints and logs went with the scratch folder.
  with open(output / 'latest.json', encoding='utf-8') as stream:
    summary = json.load(stream)
  names = sorted(summary['median']['train'])
  assert names == ['inter1', 'ours', 'ours_tf_default']  # The last: the emulated default.
  for task in ('train', 'infer', 'latency'):
    assert all(len(summary['per_round'][task][name]) == 2 for name in names)
    assert all(value > 0 for value in summary['median'][task].values())
  assert sorted(summary['ratios_ours_over_peer']) == ['inter1', 'ours_tf_default']
  flops = summary['flops']
  assert 0.01 < flops['forward_gflop_per_image'] < 0.2  # resnet_v1_18 at 32x32: ~0.09
  assert flops['matmul_ceiling_gflops'] > 0 and flops['training_percent_of_ceiling'] > 0
  assert len(summary['startup']['runs_seconds']) == 1
  memory = summary['memory']
  assert memory['train_graph_peak_rss_mb'] > 100
  end = memory['ours_at_end']
  assert end['graph_ops_now'] == end['graph_ops_at_start']  # finalized: nothing per step
  assert end['training_steps_run'] > memory['ours_after_warmup']['training_steps_run']
  machine = summary['machine']
  assert machine['emulated_avx2'] and not machine['tensorflow_default_onednn']
  assert machine['processor'] and 'avx2' in machine['extensions']
  for name in names:  # The emulation reached every contender; ours kept oneDNN on.
    runtime = summary['runtime'][name]
    assert runtime['environment']['ONEDNN_MAX_CPU_ISA'] == 'AVX2'
    assert runtime['tensorflow_onednn'] is (name != 'ours_tf_default')
    assert set(runtime['tensorflow_process_threads']) == {'intra_op', 'inter_op'}
  markdown = (output / 'latest.md').read_text(encoding='utf-8')
  assert '| training, images/s |' in markdown and 'ours / inter1' in markdown
  assert '**AVX2-only CPU emulated**' in markdown
  assert '| oneDNN kernels | on | off | on |' in markdown
  assert markdown in result.stdout


def test_peers_run_as_users_get_them_and_with_onednn_where_it_is_off():
  names = ['ours', 'slim', 'keras', 'torch']
  off = {'tensorflow_default_onednn': False, 'emulated_avx2': True}
  environments = benchmark.contender_environments(names, off)
  assert list(environments) == names + ['ours_tf_default', 'slim_onednn', 'keras_onednn']
  assert environments['ours'] == ('ours', benchmark.AVX2_EMULATION)
  assert environments['ours_tf_default'] == ('ours', dict(benchmark.AVX2_EMULATION,
                                                          TF_ENABLE_ONEDNN_OPTS='0'))
  for name in ('slim', 'keras', 'torch'):
    assert environments[name] == (name, dict(benchmark.AVX2_EMULATION,
                                             TF_ENABLE_ONEDNN_OPTS='0'))
  assert environments['keras_onednn'] == ('keras', dict(benchmark.AVX2_EMULATION,
                                                        TF_ENABLE_ONEDNN_OPTS='1'))
  on = {'tensorflow_default_onednn': True, 'emulated_avx2': False}
  environments = benchmark.contender_environments(names, on)
  assert list(environments) == names  # Forcing it on would time the same thing twice.
  assert environments['slim'] == ('slim', {'TF_ENABLE_ONEDNN_OPTS': '1'})
  assert environments['ours'] == ('ours', {})


def test_the_machine_line_names_cpu_extensions_and_the_default():
  machine = {'processor': 'AMD EPYC 7B13', 'cpus': 2, 'extensions': ['avx2', 'fma'],
             'tensorflow_default_onednn': False, 'emulated_avx2': False}
  assert benchmark.machine_line(machine) == (
      "AMD EPYC 7B13, 2 CPUs (avx2, fma); TensorFlow's default here: oneDNN off")
  line = benchmark.machine_line(dict(machine, emulated_avx2=True))
  assert 'ONEDNN_MAX_CPU_ISA=AVX2' in line and 'emulated' in line


@pytest.mark.parametrize('argv,message', [
    (['--rounds', '0'], "error: argument --rounds: '0' is not a positive integer"),
    (['--variant', 'inter1'], "error: argument --variant: 'inter1' is not LABEL=FLAGS"),
    (['--contenders', 'ours,tensorflow'],
     'error: argument --contenders: unknown contender(s) tensorflow; choose from '
     'ours,slim,keras,torch,torch_bf16'),
    (['--torch_python', '/nonexistent/python'],
     'error: --torch_python /nonexistent/python: not an executable file'),
    (['--contenders', 'slim,keras'], 'error: argument --contenders: must include ours'),
    (['--model_name', 'resnet_v9'], "error: argument --model_name: invalid choice: 'resnet_v9'"),
])
def test_bad_benchmark_flags_are_one_error_line(argv, message, tmp_path):
  result = subprocess.run([sys.executable, '-m', 'bench.benchmark',
                           '--output_dir', str(tmp_path / 'results')] + argv,
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
  assert result.returncode == 2
  assert result.stderr.startswith(message) and result.stderr.count('\n') == 1, result.stderr
  assert not (tmp_path / 'results').exists()


def test_an_unwritable_output_dir_fails_before_the_run(tmp_path):
  blocker = tmp_path / 'file'
  blocker.write_text('not a folder')
  result = subprocess.run([sys.executable, '-m', 'bench.benchmark',
                           '--output_dir', str(blocker / 'results')],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
  assert result.returncode == 2
  assert result.stderr == 'error: --output_dir %s: Not a directory\n' % (blocker / 'results')
  assert result.stdout == ''


@pytest.fixture(scope='module')
def startup_phases_run(signs_dir, tmp_path_factory):
  """(CompletedProcess, train dir) of bench/startup_phases.py on one resnet_v1_18 step."""
  train_dir = tmp_path_factory.mktemp('phases') / 'run'
  result = subprocess.run([sys.executable, '-m', 'bench.startup_phases',
                           '--dataset_dir', signs_dir, '--model_name', 'resnet_v1_18',
                           '--batch_size', '10', '--train_dir', str(train_dir)],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
  return result, train_dir


def test_startup_phases_times_each_phase_of_one_training_step(startup_phases_run):
  result, train_dir = startup_phases_run
  assert result.returncode == 0, result.stderr
  phases = [line.split()[2] for line in result.stderr.splitlines()]
  for phase in ('imports', 'build_training', '__init__', 'restore_or_initialize',
                'prepare_step', 'summary_writer', 'train_step'):
    assert phase in phases, result.stderr
  assert phases.index('build_training') < phases.index('train_step')
  assert os.path.exists(train_dir / 'model.ckpt-1.index')  # One step, then saved.


def test_startup_phases_removes_the_train_dir_it_made(signs_dir, tmp_path):
  result = subprocess.run([sys.executable, '-m', 'bench.startup_phases',
                           '--dataset_dir', signs_dir, '--model_name', 'resnet_v1_18',
                           '--batch_size', '10'],
                          capture_output=True, text=True, cwd=ROOT, timeout=600,
                          env=dict(os.environ, TMPDIR=str(tmp_path)))
  assert result.returncode == 0, result.stderr
  assert 'train_step' in result.stderr and 'checkpoints in %s' % tmp_path in result.stdout
  assert not list(tmp_path.iterdir())


def test_startup_phases_times_a_one_image_prediction(startup_phases_run):
  _, train_dir = startup_phases_run
  result = subprocess.run([sys.executable, '-m', 'bench.startup_phases', '--predict',
                           '--checkpoint_path', str(train_dir)],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
  assert result.returncode == 0, result.stderr
  phases = [line.split(None, 2)[2] for line in result.stderr.splitlines()]
  for phase in ('imports', 'build_classifier', 'restore', 'predict', '_predict'):
    assert any(line.startswith(phase + ' ') for line in phases), result.stderr
  assert phases[-1] == 'launch to printed answer (a fresh process)', result.stderr
  assert result.stdout.count('one.jpg: ') == 1, result.stdout


def test_inference_graphs_times_the_three_graphs_of_a_checkpoint(startup_phases_run):
  _, train_dir = startup_phases_run
  result = subprocess.run([sys.executable, '-m', 'bench.inference_graphs',
                           '--checkpoint_path', str(train_dir), '--rounds', '2'],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
  assert result.returncode == 0, result.stderr
  lines = result.stdout.splitlines()
  # conv1, two per unit of 8 units, three projection shortcuts.
  assert lines[0].startswith('resnet_v1_18, 20 batch norms folded'), result.stdout
  assert [line.split(':')[0] for line in lines[1:]] == ['batch 32', 'batch  1']
  assert all('folded is' in line for line in lines[1:])
