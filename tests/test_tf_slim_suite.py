"""tests/tf_slim_suite.py, the plugin that runs tf-slim's own tests from its wheel, on a few
of those tests: with the layer they pass, without it they fail, and a listed known failure
is a strict xfail. .ci/run runs the whole suite with it."""

import os
import re
import subprocess
import sys

import tf_slim
from scriptutil import ROOT

SLIM = os.path.dirname(tf_slim.__file__)


def run_slim_tests(*args):
  """Runs pytest with the plugin on tf-slim test files; returns {outcome: count}."""
  result = subprocess.run(
      [sys.executable, '-m', 'pytest', '-q', '-p', 'tests.tf_slim_suite', '--noconftest']
      + list(args), capture_output=True, text=True, cwd=ROOT, timeout=600)
  summary = result.stdout.strip().splitlines()[-1]
  return {outcome: int(count) for count, outcome in re.findall(r'(\d+) (\w+)', summary)}


def test_the_layer_makes_tf_slim_metrics_and_decoding_tests_pass():
  files = [os.path.join(SLIM, 'metrics', 'histogram_ops_test.py'),
           os.path.join(SLIM, 'data', 'tfexample_decoder_test.py'), '-k',
           'AUC or Jpeg or Png']
  with_layer = run_slim_tests(*files)
  without = run_slim_tests('--without-compat-layer', *files)
  assert with_layer.get('failed', 0) == 0 and with_layer['passed'] >= 10, with_layer
  # control_flow_ops.Assert (histograms) and .case (image decoding) are missing without it.
  assert without.get('failed', 0) >= 10, without


def test_without_the_layer_refuses_a_run_that_imported_it():
  outcome = subprocess.run(
      [sys.executable, '-m', 'pytest', '-q', '-p', 'tests.tf_slim_suite',
       '--without-compat-layer', '--pyargs', 'tf_slim.ops.arg_scope_test'],
      capture_output=True, text=True, cwd=ROOT, timeout=600)
  assert outcome.returncode != 0
  assert 'legacy_resnet is already imported' in outcome.stderr + outcome.stdout


def test_a_known_failure_runs_as_a_strict_xfail():
  outcome = run_slim_tests(
      os.path.join(SLIM, 'ops', 'variables_test.py'), '-k', 'ReplicaDeviceSetter')
  assert outcome == {'xfailed': 1, 'deselected': outcome['deselected']}, outcome
