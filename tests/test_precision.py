"""--precision: bfloat16 where the CPU runs it natively (and one error line where it
does not), float16 refused without a GPU, float32 unchanged, and checkpoints that
restore across precisions, with real runs and checkpoints on disk."""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import netutil
from scriptutil import ROOT, read_json, run_script
from legacy_resnet.checkpointing import checkpoints
from legacy_resnet.data import datasets
from legacy_resnet.graph import precision
from legacy_resnet.core import sessions
from legacy_resnet.data import synthetic_signs
from legacy_resnet.programs import train_cli
from legacy_resnet.train import training
from legacy_resnet.core.errors import UsageError

pytestmark = netutil.QUIET

SMALL_RUN = ['--model_name', 'resnet_v1_18', '--batch_size', '20', '--max_number_of_steps', '2']
NATIVE_BFLOAT16 = precision.bfloat16_refusal() is None
needs_bfloat16 = pytest.mark.skipif(not NATIVE_BFLOAT16,
                                    reason='this CPU has no native bfloat16 kernels')


def run_with(environment, script, *args):
  """``script`` as a subprocess with ``environment`` added to this process's."""
  return subprocess.run([sys.executable, os.path.join(ROOT, script)] + [str(a) for a in args],
                        capture_output=True, text=True, cwd=ROOT, timeout=600,
                        env=dict(os.environ, **environment))


@pytest.mark.parametrize('flags,environ,onednn_on,words', [
    ({'avx2', 'fma'}, {}, True, 'this CPU has no bfloat16 instructions'),
    ({'avx512f', 'avx512_bf16'}, {'ONEDNN_MAX_CPU_ISA': 'AVX2'}, True,
     'ONEDNN_MAX_CPU_ISA=AVX2 caps oneDNN below its bfloat16 kernels'),
    ({'avx512f', 'avx512_bf16'}, {'ONEDNN_MAX_CPU_ISA': 'avx512_core_vnni'}, True,
     'ONEDNN_MAX_CPU_ISA=avx512_core_vnni caps oneDNN'),
    ({'amx_bf16'}, {}, False, "TensorFlow's oneDNN kernels are off"),
])
def test_bfloat16_is_refused_where_it_would_be_emulated(flags, environ, onednn_on, words):
  assert words in precision.bfloat16_refusal(environ, flags, onednn_on)
  with pytest.raises(UsageError, match='^precision bfloat16: ' + words.split('(')[0]):
    precision.check('bfloat16', gpus=[], environ=environ, flags=flags, onednn_on=onednn_on)


@pytest.mark.parametrize('flags,environ', [
    ({'avx512f', 'avx512_bf16'}, {}),
    ({'amx_bf16', 'amx_tile'}, {'ONEDNN_MAX_CPU_ISA': 'AVX512_CORE_AMX'}),
    ({'avx512_bf16'}, {'ONEDNN_MAX_CPU_ISA': 'ALL'}),
])
def test_bfloat16_is_accepted_where_onednn_has_native_kernels(flags, environ):
  assert precision.bfloat16_refusal(environ, flags, onednn_on=True) is None
  precision.check('bfloat16', gpus=[], environ=environ, flags=flags, onednn_on=True)


def test_float16_needs_a_gpu_and_bfloat16_a_cpu():
  with pytest.raises(UsageError, match='^precision float16: needs a GPU'):
    precision.check('float16', gpus=[])
  precision.check('float16', gpus=['GPU:0'])
  with pytest.raises(UsageError, match='^precision bfloat16: is for CPUs'):
    precision.check('bfloat16', gpus=['GPU:0'])


def test_cpu_flags_come_from_the_flags_line(tmp_path):
  cpuinfo = tmp_path / 'cpuinfo'
  cpuinfo.write_text('processor\t: 0\nflags\t\t: fpu avx2 avx512_bf16\n\nflags\t: other\n')
  assert precision.cpu_flags(str(cpuinfo)) == {'fpu', 'avx2', 'avx512_bf16'}
  assert precision.cpu_flags(str(tmp_path / 'missing')) == set()


def test_each_precision_turns_on_its_rewrite_and_float32_none():
  base = sessions.session_config()
  assert precision.configure(sessions.session_config(), 'float32') == base
  rewrites = precision.configure(sessions.session_config(), 'bfloat16').graph_options
  assert rewrites.rewrite_options.auto_mixed_precision_onednn_bfloat16 == 1  # ON
  rewrites = precision.configure(sessions.session_config(), 'float16').graph_options
  assert rewrites.rewrite_options.auto_mixed_precision == 1


@pytest.mark.parametrize('script', ['train_graph.py', 'eval_graph.py'])
def test_an_avx2_only_cpu_refuses_bfloat16_in_one_line(script, tmp_path):
  # ONEDNN_MAX_CPU_ISA=AVX2 leaves oneDNN what an AVX2-only CPU has, on any machine.
  result = run_with({'ONEDNN_MAX_CPU_ISA': 'AVX2'}, script, '--precision', 'bfloat16',
                    '--checkpoint_path' if script == 'eval_graph.py' else '--train_dir',
                    tmp_path / 'run')
  assert result.returncode == 2
  assert result.stderr.startswith('error: --precision bfloat16: ONEDNN_MAX_CPU_ISA=AVX2 '
                                  'caps oneDNN'), result.stderr
  assert result.stderr.count('\n') == 1, result.stderr
  assert not (tmp_path / 'run').exists()


def test_float16_without_a_gpu_is_one_error_line(tmp_path):
  result = run_script('train_graph.py', '--precision', 'float16', '--train_dir',
                      tmp_path / 'run', check=False)
  assert result.returncode == 2
  assert result.stderr.startswith('error: --precision float16: needs a GPU')
  assert result.stderr.count('\n') == 1, result.stderr


def test_eval_precision_does_not_go_with_export(tmp_path):
  result = run_script('eval_graph.py', '--checkpoint_path', tmp_path, '--precision',
                      'bfloat16', '--export_dir', tmp_path / 'out', check=False)
  assert result.returncode == 2
  assert result.stderr == ('error: --precision bfloat16 applies to evaluation and --images; '
                           'it does not go with --export_dir\n')


def _trainer(train_dir, data, *flags):
  settings = train_cli.settings_of(['--train_dir', str(train_dir)] + SMALL_RUN + list(flags))
  return training.Trainer(settings, data, training.run_metadata(settings, data))


@needs_bfloat16
def test_bfloat16_trains_the_same_variables_with_nearly_the_same_numbers(tmp_path):
  train, test = synthetic_signs.generate(num_train=40, num_test=20, image_size=32)
  data = datasets.from_splits(train, test, {'kind': 'test'})
  results = {}
  for name in ('float32', 'bfloat16'):
    trainer = _trainer(tmp_path / name, data, '--precision', name)
    with trainer.graph.as_default():
      trainer.restore_or_initialize(lambda text: None)
      trainer.prepare_step()
      losses = [trainer.train_step(step)[0] for step in range(2)]
      variables = {name: (v.dtype.base_dtype, tuple(v.shape))
                   for name, v in trainer.saved_variables.items()}
    trainer.close()
    results[name] = losses, variables
  (losses32, variables32), (losses16, variables16) = results['float32'], results['bfloat16']
  assert variables16 == variables32  # Same names, float32 throughout.
  assert {dtype for dtype, _ in variables16.values()} <= {tf.float32, tf.int64}
  # Same start (same seed), bfloat16's 8-bit mantissa: close, but not the same numbers,
  # which shows the rewrite ran.
  np.testing.assert_allclose(losses16, losses32, rtol=0.05)
  assert losses16[0] != losses32[0]


@needs_bfloat16
def test_checkpoints_restore_across_precisions(signs_dir, tmp_path):
  common = ['--dataset_dir', signs_dir] + SMALL_RUN
  bfloat16_run, float32_run = tmp_path / 'bfloat16', tmp_path / 'float32'
  run_script('train_graph.py', '--train_dir', bfloat16_run, '--precision', 'bfloat16', *common)
  run_script('train_graph.py', '--train_dir', float32_run, *common)
  reports = {}
  for run in (bfloat16_run, float32_run):
    for name in ('float32', 'bfloat16'):
      report = tmp_path / ('%s-%s.json' % (run.name, name))
      run_script('eval_graph.py', '--checkpoint_path', run, '--precision', name,
                 '--report', report)
      reports[run.name, name] = read_json(report)
  for run in ('bfloat16', 'float32'):
    assert reports[run, 'float32']['global_step'] == reports[run, 'bfloat16']['global_step'] == 2
    assert reports[run, 'bfloat16']['loss'] == pytest.approx(reports[run, 'float32']['loss'],
                                                             rel=0.05)
  # A float32 run resumes in bfloat16 from its float32 checkpoint, and the checkpoint it
  # then writes holds the same float32 variables.
  run_script('train_graph.py', '--train_dir', float32_run, '--precision', 'bfloat16',
             *(common[:-1] + ['3']))
  latest = tf.train.latest_checkpoint(str(float32_run))
  assert checkpoints.global_step(latest) == 3
  before = dict(tf.train.list_variables(str(float32_run / 'model.ckpt-2')))
  after = tf.train.load_checkpoint(latest)
  assert dict(tf.train.list_variables(latest)) == before
  assert {after.get_variable_to_dtype_map()[name] for name in before} <= {tf.float32,
                                                                            tf.int64}
