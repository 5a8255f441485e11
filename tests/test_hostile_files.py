"""Hostile files cost one error line, not the machine: a generated corpus (see
hostile_corpus) run through train_graph.py, eval_graph.py --dataset_dir/--dataset_file/
--images/--checkpoint_path and inspect_checkpoint. Every case ends in exactly one
``error:`` line and exit status 2 with no traceback (a bit-flipped or truncated file
that is still valid may instead be accepted), and memory stays bounded.

Most cases run in this process through the programs' main functions (cli.run, as
the scripts do); a handful run as real subprocesses, side by side.
"""

import collections
import os
import resource
import shutil
import subprocess
import sys
import threading
import traceback

import hostile_corpus
import netutil
import numpy as np
import pytest
from scriptutil import ROOT

from legacy_resnet.checkpointing import checkpoints
from legacy_resnet.checkpointing import inspect_checkpoint
from legacy_resnet.core import cli
from legacy_resnet.programs import eval_cli
from legacy_resnet.programs import train_cli

pytestmark = netutil.QUIET

SEED = 19
# Peak resident memory allowed: growth of this process over the whole corpus (which
# includes restoring the model for each still-valid file), and any subprocess
# (TensorFlow alone takes several hundred MiB). Without the limits the corpus asks
# for over 100 GiB at once.
MAX_GROWTH_KIB = 3 * 1024 * 1024
MAX_SUBPROCESS_KIB = 1024 * 1024
SUBPROCESS_SECS = 300


def run_in_process(main, argv, capsys):
  """(exit status, stdout, stderr) of a front door's main, run through cli.run; an
  exception that escapes becomes status None and its traceback the stderr, as the
  script would have printed it."""
  try:
    status = cli.run(main, [str(arg) for arg in argv])
  except SystemExit as exit_:  # argparse errors exit directly.
    status = exit_.code
  except Exception:  # pylint: disable=broad-except
    status = None
    sys.stderr.write(traceback.format_exc())
  captured = capsys.readouterr()
  return status, captured.out, captured.err


def peak_rss_kib():
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


class Outcomes:
  """What each program did with each case; ``problems`` lists the cases that broke
  the rule (anything but one error line and exit 2; exit 0 only for a flipped or
  truncated file that still decodes, such as a GIF cut after its first frame)."""

  def __init__(self):
    self.cases = collections.Counter()
    self.accepted = collections.Counter()
    self.problems = []

  def record(self, program, kind, path, status, stderr):
    self.cases[program] += 1
    lines = stderr.splitlines()
    if status == 0 and kind.startswith(('flipped', 'truncated')) and not any(
        line.startswith(('error:', 'Traceback')) for line in lines):
      self.accepted[program] += 1
      return
    if status != 2 or len(lines) != 1 or not lines[0].startswith('error: '):
      self.problems.append((program, kind, path, status, stderr[-600:]))


@pytest.fixture(scope='module')
def tiny_run(tmp_path_factory):
  """(folder of valid SIGNS files, train dir of a one-step resnet_v1_18 run on them)."""
  folder = str(tmp_path_factory.mktemp('tiny'))
  hostile_corpus.write_signs_folder(folder, np.random.default_rng(SEED))
  train_dir = os.path.join(folder, 'run')
  status = cli.run(train_cli.main, ['--dataset_dir', folder, '--train_dir', train_dir,
                                    '--model_name', 'resnet_v1_18', '--batch_size', '6',
                                    '--max_number_of_steps', '1'])
  assert status == 0
  return folder, train_dir


def _train_folder(folder, hostile, rng):
  """A --dataset_dir whose train_signs.h5 is ``hostile``; its test file has other
  classes, so a train file that is still valid ends in an error before training."""
  hostile_corpus.write_signs_folder(folder, rng, classes=hostile_corpus.NUM_CLASSES + 1)
  shutil.copy(hostile, os.path.join(folder, 'train_signs.h5'))


def _eval_folder(folder, hostile):
  os.makedirs(folder, exist_ok=True)
  shutil.copy(hostile, os.path.join(folder, 'test_signs.h5'))


class FlippedInPlace:
  """Flips bits of a checkpoint file in place and restores it afterwards, so no copy
  of the data file is needed per case."""

  def __init__(self, path):
    self.path = path
    with open(path, 'rb') as stream:
      self.original = stream.read()

  def write(self, data):
    with open(self.path, 'wb') as out:
      out.write(data)

  def restore(self):
    self.write(self.original)


def checkpoint_cases(prefix, rng, count=24):
  """[(kind, new bytes of which file)]: bits flipped in the index and the data file,
  and both truncated."""
  data_file = prefix + '.data-00000-of-00001'
  cases = []
  for path, name in ((prefix + '.index', 'index'), (data_file, 'data')):
    with open(path, 'rb') as stream:
      original = stream.read()
    for index in range(count // 2):
      cases.append(('bits flipped in %s' % name, path,
                    hostile_corpus.flip_bits(original, rng, 1 + index % 3)))
    for cut in hostile_corpus.truncations(original, 4):
      cases.append(('truncated %s' % name, path, cut))
  return cases


def _subprocess(argv, peak_file):
  """A script (or ``-m`` module) started through peak_rss_child, which writes its own
  peak resident memory to ``peak_file``."""
  process = subprocess.Popen(
      [sys.executable, os.path.join(ROOT, 'tests', 'peak_rss_child.py'), peak_file] + argv,
      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT)
  process.peak_file = peak_file
  return process


def _finish(process):
  """(exit status, stderr, peak resident KiB) of ``process``. A process still running
  after SUBPROCESS_SECS is killed (and so fails)."""
  timer = threading.Timer(SUBPROCESS_SECS, process.kill)
  timer.start()
  try:
    _, err = process.communicate()
  finally:
    timer.cancel()
  if not os.path.exists(process.peak_file):  # Killed: the status is the failure.
    return process.returncode, err, 0
  with open(process.peak_file) as stream:
    return process.returncode, err, int(stream.read())


@pytest.mark.parametrize('scale', [1, pytest.param(5, marks=pytest.mark.slow)])
def test_hostile_files_cost_one_error_line(scale, tiny_run, tmp_path, capsys):
  folder, train_dir = tiny_run
  prefix = checkpoints.resolve(train_dir)
  rng = np.random.default_rng(SEED + scale)
  h5 = hostile_corpus.h5_cases(str(tmp_path / 'h5'), rng, 'train', 50 * scale, 30 * scale)
  h5_test = hostile_corpus.h5_cases(str(tmp_path / 'h5_test'), rng, 'test', 4 * scale,
                                    10 * scale)
  pictures = hostile_corpus.image_cases(str(tmp_path / 'images'), rng, 4 * scale, 40 * scale)
  outcomes = Outcomes()

  # A handful as real subprocesses, started first, running beside the in-process cases.
  huge_dir = str(tmp_path / 'huge')
  huge = next(path for kind, path in h5 if kind == 'huge contiguous 114 GiB')
  _train_folder(huge_dir, huge, rng)
  damaged_index = str(tmp_path / 'damaged' / 'model.ckpt-1')
  os.makedirs(os.path.dirname(damaged_index))
  with open(prefix + '.index', 'rb') as stream:
    index = stream.read()
  with open(damaged_index + '.index', 'wb') as out:
    out.write(hostile_corpus.flip_bits(index, rng, 2))
  os.link(prefix + '.data-00000-of-00001', damaged_index + '.data-00000-of-00001')
  truncated = next(path for kind, path in h5 if kind == 'truncated' and os.path.getsize(path))
  bomb = next(path for kind, path in pictures if kind == 'bomb png 6000x6000 of zeros')
  real = {
      program: _subprocess(argv, str(tmp_path / ('peak%d' % number)))
      for number, (program, argv) in enumerate((
          ('train_graph.py', ['train_graph.py', '--dataset_dir', huge_dir,
                              '--train_dir', str(tmp_path / 'never')]),
          ('eval_graph.py --images', ['eval_graph.py', '--checkpoint_path', train_dir,
                                      '--images', bomb]),
          ('eval_graph.py --dataset_file', ['eval_graph.py', '--checkpoint_path', train_dir,
                                            '--dataset_file', truncated]),
          ('inspect_checkpoint', ['-m', 'legacy_resnet.checkpointing.inspect_checkpoint', damaged_index])))
  }

  before = peak_rss_kib()
  for index, (kind, path) in enumerate(h5):
    train_folder = str(tmp_path / 'train' / str(index))
    _train_folder(train_folder, path, rng)
    status, _, err = run_in_process(train_cli.main, [
        '--dataset_dir', train_folder, '--train_dir', str(tmp_path / 'never'),
        '--model_name', 'resnet_v1_18', '--max_number_of_steps', '1',
        # The test file is read up front only without a validation split; with one it
        # waits for the end of training, and a still-valid train file would train first.
        '--validation_split', '0'], capsys)
    outcomes.record('train_graph.py --dataset_dir', kind, path, status, err)
  # The test-key corpus through evaluation, as a folder and as a file; a still-valid
  # flipped file costs a whole evaluation there.
  for index, (kind, path) in enumerate(h5_test):
    eval_folder = str(tmp_path / 'eval' / str(index))
    _eval_folder(eval_folder, path)
    for flag, value in (('--dataset_dir', eval_folder), ('--dataset_file', path)):
      status, _, err = run_in_process(eval_cli.main, [
          '--checkpoint_path', train_dir, flag, value], capsys)
      outcomes.record('eval_graph.py %s' % flag, kind, path, status, err)
  for kind, path in pictures:
    status, _, err = run_in_process(eval_cli.main, [
        '--checkpoint_path', train_dir, '--images', path], capsys)
    outcomes.record('eval_graph.py --images', kind, path, status, err)
  damaged_checkpoints = checkpoint_cases(prefix, rng, 24 * scale)
  for kind, path, data in damaged_checkpoints:
    damaged = FlippedInPlace(path)
    damaged.write(data)
    try:
      for program, main, argv in (
          ('eval_graph.py --checkpoint_path', eval_cli.main,
           ['--checkpoint_path', prefix, '--dataset_dir', folder]),
          ('inspect_checkpoint', inspect_checkpoint.main, [prefix])):
        status, _, err = run_in_process(main, argv, capsys)
        outcomes.record(program, 'flipped ' + kind if 'flipped' in kind else kind, path,
                        status, err)
    finally:
      damaged.restore()
  growth = peak_rss_kib() - before

  subprocess_peaks = {}
  for program, process in real.items():
    status, err, subprocess_peaks[program] = _finish(process)
    outcomes.record(program + ' (subprocess)', 'subprocess', ' '.join(process.args[3:]),
                    status, err)

  files = len(h5) + len(h5_test) + len(pictures) + len(damaged_checkpoints) + 2
  with capsys.disabled():
    print('\nhostile corpus: %d files; cases per program %s; accepted as valid %s; '
          'peak RSS growth in process %d MiB, subprocess peaks (MiB) %s'
          % (files, dict(outcomes.cases), dict(outcomes.accepted), growth // 1024,
             {program: peak // 1024 for program, peak in subprocess_peaks.items()}))
  assert files >= 200
  assert not outcomes.problems, '%d problems:\n%s' % (
      len(outcomes.problems), '\n'.join(map(repr, outcomes.problems)))
  assert not os.path.exists(tmp_path / 'never')
  assert growth < MAX_GROWTH_KIB
  assert max(subprocess_peaks.values()) < MAX_SUBPROCESS_KIB, subprocess_peaks
