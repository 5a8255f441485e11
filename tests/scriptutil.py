"""Shared helpers for the tests that run the command-line scripts as real subprocesses."""

import json
import os
import runpy
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


def run_as_main(argv):
  """Runs ``[PATH, args...]`` or ``['-m', MODULE, args...]`` in this process as
  ``python`` started in the current folder would (for wrappers around a program)."""
  sys.path[0] = os.getcwd()
  if argv[0] == '-m':
    sys.argv = list(argv[1:])
    runpy.run_module(argv[1], run_name='__main__', alter_sys=True)
  else:
    sys.argv = list(argv)
    runpy.run_path(argv[0], run_name='__main__')


def read_json(path):
  with open(path, encoding='utf-8') as stream:
    return json.load(stream)
