"""Shared helpers for the tests that run the command-line scripts as real subprocesses."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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
