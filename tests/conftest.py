"""Shared fixtures: a tiny SIGNS-format dataset on disk and a runner for the two
command-line scripts as real subprocesses."""

import json
import os
import subprocess
import sys

import pytest

from legacy_resnet import synthetic_signs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope='session')
def signs_dir(tmp_path_factory):
  """A folder with train_signs.h5 (60 images) and test_signs.h5 (30 images)."""
  folder = tmp_path_factory.mktemp('signs')
  synthetic_signs.write_signs_files(str(folder), num_train=60, num_test=30, seed=1)
  return str(folder)


def run_script(script, *args, check=True):
  """Runs train_graph.py or eval_graph.py; returns the CompletedProcess."""
  result = subprocess.run([sys.executable, os.path.join(ROOT, script)] + [str(a) for a in args],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
  if check and result.returncode != 0:
    raise AssertionError('%s %s exited %d\nstdout:\n%s\nstderr:\n%s'
                         % (script, ' '.join(map(str, args)), result.returncode,
                            result.stdout, result.stderr))
  return result


def read_json(path):
  with open(path, encoding='utf-8') as stream:
    return json.load(stream)
