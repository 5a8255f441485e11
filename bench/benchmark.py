#!/usr/bin/env python3
"""How fast this project trains and runs its ResNets on this machine, against its peers.

    python -m bench.benchmark            # full run (resnet_v1_50, 64x64, batch 32)
    python -m bench.benchmark --quick    # a short one

Every contender (``bench/contenders.py``: ours, tf-slim's straight port, Keras 3,
PyTorch) lives in its own process, is built and warmed up once, and is then timed in
interleaved rounds (ours, slim, keras, torch, then slim, keras, torch, ours, ...), so
that drift of the machine (other processes, clocks) hits all of them alike; each
reported number is the median over rounds. Also measured: the float32 matrix-multiply ceiling, the GFLOP/s
that training achieves from the network's counted FLOPs, the time from launching
``train_graph.py`` to its first finished step, and memory.

Writes ``bench/results/latest.json`` and ``latest.md`` (``--output_dir``).
"""

import argparse
import datetime
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from bench import contenders
from legacy_resnet.core import atomic_files
from legacy_resnet.core import cli
from legacy_resnet.core import onednn
from legacy_resnet.core.errors import UsageError
from nets import nets_factory

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

PEER_NAMES = {'ours': 'ours (legacy_resnet)', 'slim': "tf-slim's resnet_v1_50, plain session",
              'keras': 'Keras 3 ResNet50 fit/predict', 'torch': 'PyTorch ResNet-50',
              'torch_bf16': 'PyTorch ResNet-50, autocast bfloat16',
              'slim_onednn': "tf-slim's resnet_v1_50, oneDNN on",
              'keras_onednn': 'Keras 3 ResNet50, oneDNN on',
              'ours_tf_default': "ours with TensorFlow's default (oneDNN off)"}
# The TensorFlow peers that also run with oneDNN forced on where TensorFlow's default
# leaves it off, as a user who knows the switch would run them.
ONEDNN_PEERS = ('slim', 'keras')
# The CPU features that decide which kernels TensorFlow and PyTorch can use.
VECTOR_EXTENSIONS = ('avx2', 'fma', 'avx512f', 'avx512_vnni', 'avx512_bf16', 'amx_tile')
# An AVX2-only CPU approximated on a newer one: oneDNN (TensorFlow's and PyTorch's),
# PyTorch's own kernels and XLA's code generation capped at AVX2, and TensorFlow's
# default taken as oneDNN off, which is what TensorFlow chooses on a CPU without
# AVX-512 VNNI/BF16 or AMX. TensorFlow's Eigen kernels are built for AVX already.
AVX2_EMULATION = {'ONEDNN_MAX_CPU_ISA': 'AVX2', 'ATEN_CPU_CAPABILITY': 'avx2',
                  'XLA_FLAGS': '--xla_cpu_max_isa=AVX2'}
TASKS = ('train', 'infer', 'latency')
TRAINING_FLOPS_PER_FORWARD = 3  # forward + backward (about twice the forward)


def _contender_list(text):
  """--contenders: known names, ours among them."""
  names = cli.comma_list(text)
  unknown = [name for name in names if name not in contenders.CONTENDERS]
  if unknown:
    raise argparse.ArgumentTypeError('unknown contender(s) %s; choose from %s' % (
        ', '.join(unknown), ','.join(contenders.CONTENDERS)))
  if 'ours' not in names:
    raise argparse.ArgumentTypeError('must include ours')
  return names


def _variant(text):
  """--variant LABEL=FLAGS -> (label, flags)."""
  label, equals, flags = text.partition('=')
  if not (label and equals):
    raise argparse.ArgumentTypeError('%r is not LABEL=FLAGS' % text)
  return label, flags


def parse_args(argv):
  p = cli.ArgumentParser(description=__doc__.split('\n\n')[0])
  p.add_argument('--quick', action='store_true',
                 help='3 rounds of 3 steps, 1 start-up run (default: 7 rounds of 8 steps, 3)')
  p.add_argument('--rounds', type=cli.positive_int, help='interleaved rounds')
  p.add_argument('--steps', type=cli.positive_int,
                 help='timed steps (batches) per contender per round')
  p.add_argument('--warmup', type=cli.non_negative_int, default=2,
                 help='untimed steps of each kind first')
  p.add_argument('--startup_runs', type=cli.non_negative_int,
                 help='fresh train_graph.py launches timed')
  p.add_argument('--model_name', default='resnet_v1_50',
                 choices=sorted(nets_factory.networks_map), metavar='MODEL_NAME',
                 help='our network')
  p.add_argument('--image_size', type=cli.positive_int, default=64)
  p.add_argument('--batch_size', type=cli.positive_int, default=32)
  p.add_argument('--contenders', type=_contender_list, default='ours,slim,keras,torch',
                 help='comma-separated subset of %s' % ','.join(contenders.CONTENDERS))
  p.add_argument('--skip_torch', action='store_true', help='leave PyTorch out')
  p.add_argument('--torch_python', metavar='PYTHON',
                 help='the Python interpreter of an environment with PyTorch (and numpy) '
                 'that runs the PyTorch contenders (default: this one)')
  p.add_argument('--startup_dataset_dir',
                 help='SIGNS folder for the start-up runs (default: the synthetic set)')
  p.add_argument('--variant', type=_variant, action='append', default=[],
                 metavar='LABEL=FLAGS',
                 help='also time ours with these train_graph.py flags, as a contender '
                 'named LABEL (e.g. inter1="--num_inter_threads 1"); repeatable')
  p.add_argument('--emulate_avx2', action='store_true',
                 help='approximate an AVX2-only CPU on this one: every contender\'s oneDNN '
                 'and PyTorch kernels capped at AVX2, and the peers run with oneDNN off, '
                 'as TensorFlow leaves it on such CPUs')
  p.add_argument('--output_dir', default=os.path.join(HERE, 'results'))
  args = p.parse_args(argv)
  args.rounds = args.rounds or (3 if args.quick else 7)
  args.steps = args.steps or (3 if args.quick else 8)
  if args.startup_runs is None:
    args.startup_runs = 1 if args.quick else 3
  if args.torch_python and not os.access(args.torch_python, os.X_OK):
    p.error('--torch_python %s: not an executable file' % args.torch_python)
  if args.skip_torch or (not args.torch_python and importlib.util.find_spec('torch') is None):
    args.contenders = [name for name in args.contenders
                       if name not in contenders.TORCH_CONTENDERS]
  args.contenders = ['ours'] + [name for name in args.contenders if name != 'ours']
  args.variants = dict(args.variant)
  return args


class Worker:
  """A contender process: started at once, answers one command at a time."""

  def __init__(self, name, kind, config, scratch, environment, python=None):
    self.name = name
    self.log_path = os.path.join(scratch, name + '.log')
    self.log = open(self.log_path, 'w', encoding='utf-8')
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3', PYTHONUNBUFFERED='1', **environment)
    # Files a contender writes (ours' checkpoints) go to the run's scratch folder too,
    # which is removed at the end.
    config = dict(config, scratch_dir=scratch)
    self.process = subprocess.Popen(
        [python or sys.executable, '-m', 'bench.contenders', kind, json.dumps(config)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True,
        cwd=ROOT, env=env)
    self.ready = None

  def answer(self):
    line = self.process.stdout.readline()
    if not line:
      self.log.flush()
      with open(self.log_path, encoding='utf-8') as stream:
        raise RuntimeError('contender %s died:\n%s' % (self.name, stream.read()[-3000:]))
    return json.loads(line)

  def wait_ready(self):
    self.ready = self.answer()['ready']
    return self.ready

  def ask(self, command):
    self.process.stdin.write(command + '\n')
    self.process.stdin.flush()
    return self.answer()

  def close(self):
    if self.process.poll() is None:
      self.process.stdin.write('quit\n')
      self.process.stdin.close()
      self.process.wait(timeout=60)
    self.log.close()


def cpu_extensions():
  """The VECTOR_EXTENSIONS this CPU has (Linux /proc/cpuinfo flags)."""
  try:
    with open('/proc/cpuinfo', encoding='ascii', errors='replace') as stream:
      for line in stream:
        if line.startswith('flags'):
          flags = set(line.split(':', 1)[1].split())
          return [name for name in VECTOR_EXTENSIONS if name in flags]
  except OSError:
    pass
  return []


def tensorflow_default_onednn():
  """Whether TensorFlow, left to itself, turns oneDNN on for this CPU (asked in a fresh
  process without TF_ENABLE_ONEDNN_OPTS and without legacy_resnet, which sets it)."""
  env = {name: value for name, value in os.environ.items()
         if name != onednn.VARIABLE}
  answer = subprocess.run(
      [sys.executable, '-c', 'from tensorflow.python.util import _pywrap_util_port as p; '
       'print(p.IsMklEnabled())'], capture_output=True, text=True, env=dict(
           env, TF_CPP_MIN_LOG_LEVEL='3'), check=True)
  return answer.stdout.split()[-1] == 'True'


def machine_info(emulate_avx2):
  """The CPU the figures come from, and the kernel choice TensorFlow makes on it."""
  info = {'cpus': os.cpu_count(), 'processor': _cpu_model(),
          'python': platform.python_version(), 'extensions': cpu_extensions(),
          'emulated_avx2': emulate_avx2}
  info['tensorflow_default_onednn'] = False if emulate_avx2 else tensorflow_default_onednn()
  return info


def contender_environments(contender_names, machine):
  """{worker name: (contender kind, extra environment)}: ours as users get it (oneDNN
  on unless they turn it off), the peers with TensorFlow's default for this CPU, and,
  where that default is off, ours with it off and the TensorFlow peers with it on."""
  common = dict(AVX2_EMULATION) if machine['emulated_avx2'] else {}
  peer_default = '1' if machine['tensorflow_default_onednn'] else '0'
  workers = {}
  for name in contender_names:
    if name == 'ours':
      workers[name] = (name, dict(common))
    else:
      workers[name] = (name, dict(common, **{onednn.VARIABLE: peer_default}))
  if not machine['tensorflow_default_onednn']:
    # Ours as it runs when oneDNN is left to TensorFlow: what turning it on gains.
    workers['ours_tf_default'] = ('ours', dict(common, **{onednn.VARIABLE: '0'}))
    for name in ONEDNN_PEERS:
      if name in contender_names:
        workers[name + '_onednn'] = (name, dict(common, **{onednn.VARIABLE: '1'}))
  return workers


def matmul_gflops(sizes=(2048, 3072, 4096), repeats=3):
  """Best float32 matrix-multiply rate of numpy (its BLAS, all cores), in GFLOP/s."""
  best = 0.0
  rng = np.random.default_rng(0)
  for size in sizes:
    a = rng.random((size, size), dtype=np.float32)
    b = rng.random((size, size), dtype=np.float32)
    a @ b  # Warm-up: thread pool, page faults.
    for _ in range(repeats):
      start = time.perf_counter()
      a @ b
      best = max(best, 2.0 * size ** 3 / (time.perf_counter() - start) / 1e9)
  return best


def startup_seconds(args, scratch, environment):
  """(seconds from launching ``train_graph.py --max_number_of_steps 1`` (as
  ``bench.first_step``) to its first finished step, peak resident MiB of that training
  process), with ``environment`` added to this process's."""
  train_dir = tempfile.mkdtemp(prefix='startup-', dir=scratch)
  marker = os.path.join(train_dir, 'first_step')
  command = [sys.executable, '-m', 'bench.first_step', marker,
             '--train_dir', train_dir,
             '--model_name', args.model_name, '--batch_size', str(args.batch_size),
             '--max_number_of_steps', '1']
  if args.startup_dataset_dir:
    command += ['--dataset_dir', args.startup_dataset_dir]
  env = dict(os.environ, **environment)
  launched = time.time()
  process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
  _, status, usage = os.wait4(process.pid, 0)
  process.returncode = os.waitstatus_to_exitcode(status)
  if process.returncode:
    raise RuntimeError('train_graph.py failed: %s' % process.stderr.read().decode()[-2000:])
  process.stderr.close()
  with open(marker, encoding='utf-8') as stream:
    first_step = float(stream.readline())
  return first_step - launched, usage.ru_maxrss / 1024.0


def per_round_rate(seconds, images_per_step):
  """Images per second of one round (all its steps together)."""
  return images_per_step * len(seconds) / sum(seconds)


def run_rounds(args, workers):
  """Interleaved rounds; returns {task: {name: [per-round value]}}.

  Each round starts one contender later (A B C, B C A, C A B, ...), so that none is
  always the one that runs right after a pause or after a given other contender.
  """
  results = {task: {worker.name: [] for worker in workers} for task in TASKS}
  for round_index in range(args.rounds):
    shift = round_index % len(workers)
    for task in TASKS:
      for worker in workers[shift:] + workers[:shift]:
        seconds = worker.ask(task)['seconds']
        if task == 'latency':
          results[task][worker.name].append(1000.0 * statistics.median(seconds))
        else:
          results[task][worker.name].append(per_round_rate(seconds, args.batch_size))
    print('round %d/%d: %s' % (round_index + 1, args.rounds, ', '.join(
        '%s %.1f img/s' % (name, values[-1]) for name, values in results['train'].items())),
          flush=True)
  return results


def summarize(args, machine, workers, results, startups, ceilings, memory):
  """The JSON result: medians, ratios and everything they came from."""
  medians = {task: {name: statistics.median(values) for name, values in by_name.items()}
             for task, by_name in results.items()}
  ours = workers[0].ready
  forward_gflop = ours['forward_flops_per_image'] / 1e9
  ceiling = max(ceilings)
  achieved = medians['train']['ours'] * forward_gflop * TRAINING_FLOPS_PER_FORWARD
  ratios = {}
  for peer in [worker.name for worker in workers[1:]]:
    ratios[peer] = {
        'train': medians['train']['ours'] / medians['train'][peer],
        'infer': medians['infer']['ours'] / medians['infer'][peer],
        'latency': medians['latency'][peer] / medians['latency']['ours']}
  return {
      'date': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'),
      'command': 'python -m bench.benchmark ' + ' '.join(sys.argv[1:]),
      'machine': machine,
      'runtime': {worker.name: worker.ready['runtime'] for worker in workers},
      'config': {'model_name': args.model_name, 'image_size': args.image_size,
                 'batch_size': args.batch_size, 'rounds': args.rounds, 'steps': args.steps,
                 'warmup': args.warmup, 'contenders': args.contenders,
                 'variants': args.variants},
      'ours_settings': {key: ours.get(key) for key in ('xla', 'precision',
                                                       'intra_op_threads',
                                                       'inter_op_threads')},
      'median': medians, 'per_round': results, 'ratios_ours_over_peer': ratios,
      'flops': {'forward_gflop_per_image': forward_gflop,
                'training_gflop_per_image': forward_gflop * TRAINING_FLOPS_PER_FORWARD,
                'matmul_ceiling_gflops': ceiling, 'matmul_runs_gflops': ceilings,
                'training_gflops': achieved, 'training_percent_of_ceiling':
                    100.0 * achieved / ceiling},
      'startup': {'runs_seconds': startups and [s for s, _ in startups],
                  'median_seconds': startups and statistics.median(s for s, _ in startups)},
      'memory': memory,
      'setup_seconds': {worker.name: worker.ready['setup_seconds'] for worker in workers},
  }


def _cpu_model():
  try:
    with open('/proc/cpuinfo', encoding='ascii', errors='replace') as stream:
      for line in stream:
        if line.startswith('model name'):
          return line.split(':', 1)[1].strip()
  except OSError:
    pass
  return platform.processor()


def markdown(summary):
  """The result as a Markdown table (ratios: how many times faster ours is)."""
  names = list(summary['median']['train'])
  peers = names[1:]
  med, ratios = summary['median'], summary['ratios_ours_over_peer']
  header = '| | ' + ' | '.join(PEER_NAMES.get(name, 'ours ' + name) for name in names) + ' | ' + ' | '.join(
      'ours / %s' % name for name in peers) + ' |'
  lines = [header, '|' + '---|' * (1 + len(names) + len(peers))]
  rows = (('training, images/s', 'train', '%.1f'), ('inference batch %d, images/s'
          % summary['config']['batch_size'], 'infer', '%.1f'),
          ('single-image latency, ms', 'latency', '%.1f'))
  lines.append('| oneDNN kernels | ' + ' | '.join(
      _onednn_state(summary['runtime'][name]) for name in names) + ' |' + ' |' * len(peers))
  for title, task, form in rows:
    lines.append('| %s | ' % title + ' | '.join(form % med[task][name] for name in names) +
                 ' | ' + ' | '.join('%.2fx' % ratios[peer][task] for peer in peers) + ' |')
  flops, startup, memory = summary['flops'], summary['startup'], summary['memory']
  lines += [
      '',
      '| measure | value |', '|---|---|',
      '| float32 matmul ceiling (numpy, best of runs%s) | %.1f GFLOP/s |'
      % (', not capped by the emulation' if summary['machine']['emulated_avx2'] else '',
         flops['matmul_ceiling_gflops']),
      '| forward FLOPs per image (counted from the graph) | %.3f GFLOP |'
      % flops['forward_gflop_per_image'],
      '| training achieved (3 x forward FLOPs x images/s) | %.1f GFLOP/s = %.0f%% of the '
      'ceiling |' % (flops['training_gflops'], flops['training_percent_of_ceiling']),
      '| launch of `train_graph.py` to first finished step | %s |' % (
          'median %.1f s of %s' % (startup['median_seconds'], ', '.join(
              '%.1f' % s for s in startup['runs_seconds'])) if startup['runs_seconds']
          else 'not run'),
      '| peak resident memory of that training process | %s |' % (
          '%.0f MiB' % memory['train_graph_peak_rss_mb'] if memory.get(
              'train_graph_peak_rss_mb') else 'not run'),
      '| ours (training + evaluation process): RSS after warm-up -> after all rounds | '
      '%.0f -> %.0f MiB (%d -> %d steps; graph ops %d -> %d) |' % (
          memory['ours_after_warmup']['rss_mb'], memory['ours_at_end']['rss_mb'],
          memory['ours_after_warmup']['training_steps_run'],
          memory['ours_at_end']['training_steps_run'],
          memory['ours_at_end']['graph_ops_at_start'], memory['ours_at_end']['graph_ops_now']),
  ]
  return ('%s, %s. `%s`\n\n%s at %dx%d, batch %d; medians of %d interleaved '
          'rounds of %d steps after %d warm-up steps.\n\n' % (
              summary['date'], machine_line(summary['machine']), summary['command'],
              summary['config']['model_name'],
              summary['config']['image_size'], summary['config']['image_size'],
              summary['config']['batch_size'], summary['config']['rounds'],
              summary['config']['steps'], summary['config']['warmup'])
          + '\n'.join(lines) + '\n')


def machine_line(machine):
  """'<CPU model>, N CPUs (avx2, fma, ...); TensorFlow's default: oneDNN on|off' (and
  the emulation, when there was one)."""
  line = '%s, %d CPUs (%s); TensorFlow\'s default here: oneDNN %s' % (
      machine['processor'], machine['cpus'], ', '.join(machine['extensions']) or 'no AVX2',
      'on' if machine['tensorflow_default_onednn'] else 'off')
  if machine['emulated_avx2']:
    line += ('; **AVX2-only CPU emulated** (%s; peers with oneDNN off, as TensorFlow '
             'leaves it on such CPUs)' % ', '.join('%s=%s' % item
                                                   for item in AVX2_EMULATION.items()))
  return line


def _onednn_state(runtime):
  for key in ('tensorflow_onednn', 'torch_onednn'):
    if key in runtime:
      return 'on' if runtime[key] else 'off'
  return '-'


def write_results(summary, output_dir):
  """latest.json and latest.md in ``output_dir``, each written whole then renamed."""
  atomic_files.write_json(os.path.join(output_dir, 'latest.json'), summary)
  with atomic_files.replacing(os.path.join(output_dir, 'latest.md')) as temporary:
    with open(temporary, 'w', encoding='utf-8') as stream:
      stream.write(markdown(summary))


def main(argv):
  args = parse_args(argv)
  try:  # Before the run, not after its minutes.
    os.makedirs(args.output_dir, exist_ok=True)
  except OSError as error:
    raise UsageError('--output_dir %s: %s' % (args.output_dir, error.strerror)) from None
  config = {'model_name': args.model_name, 'image_size': args.image_size,
            'batch_size': args.batch_size, 'steps': args.steps, 'warmup': args.warmup}
  machine = machine_info(args.emulate_avx2)
  environments = contender_environments(args.contenders, machine)
  with tempfile.TemporaryDirectory(prefix='legacy-resnet-bench-') as scratch:
    workers = [Worker(name, kind, config, scratch, environment,
                      args.torch_python if kind in contenders.TORCH_CONTENDERS else None)
               for name, (kind, environment) in environments.items()]
    workers += [Worker(label, 'ours', dict(config, train_flags=flags.split()), scratch,
                       environments['ours'][1])
                for label, flags in args.variants.items()]
    try:
      for worker in workers:
        worker.wait_ready()
        print('%s ready in %.1f s' % (worker.name, worker.ready['setup_seconds']), flush=True)
      memory = {'ours_after_warmup': workers[0].ask('memory')}
      ceilings = [matmul_gflops()]
      results = run_rounds(args, workers)
      memory['ours_at_end'] = workers[0].ask('memory')
      ceilings.append(matmul_gflops())
      # After the rounds: a start-up run writes checkpoints, whose write-back to disk
      # would slow whichever contender ran next.
      startups = [startup_seconds(args, scratch, environments['ours'][1])
                  for _ in range(args.startup_runs)]
      if startups:
        memory['train_graph_peak_rss_mb'] = max(rss for _, rss in startups)
    finally:
      for worker in workers:
        worker.close()
  summary = summarize(args, machine, workers, results, startups, ceilings, memory)
  write_results(summary, args.output_dir)
  print(markdown(summary))
  return 0


if __name__ == '__main__':
  sys.exit(cli.run(main, sys.argv[1:]))
