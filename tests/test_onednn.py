"""oneDNN kernels: on when the user has not chosen, an explicit choice kept, and
``--verbose`` saying which. Each case is a fresh process, because TensorFlow reads
``TF_ENABLE_ONEDNN_OPTS`` once, when it loads."""

import os
import subprocess
import sys

import pytest

from legacy_resnet.core import onednn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPORT = ('import os, legacy_resnet; from legacy_resnet.core import onednn; '
          'print(os.environ.get(onednn.VARIABLE), onednn.enabled())')


def _environment(value):
  """This process's environment with the variable set to ``value`` (None: unset)."""
  environ = dict(os.environ)
  environ.pop(onednn.VARIABLE, None)  # The test process's own import set it.
  if value is not None:
    environ[onednn.VARIABLE] = value
  return environ


def _python(code, value):
  result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          cwd=ROOT, env=_environment(value), timeout=300, check=True)
  return result.stdout.split()


@pytest.mark.parametrize('value, expected', [(None, ['1', 'True']), ('0', ['0', 'False']),
                                             ('1', ['1', 'True'])])
def test_import_turns_onednn_on_unless_the_user_chose(value, expected):
  assert _python(REPORT, value) == expected


def test_tensorflow_imported_first_is_left_alone():
  code = ('import tensorflow, os, legacy_resnet; from legacy_resnet.core import onednn; '
          'print(os.environ.get(onednn.VARIABLE), onednn.describe())')
  words = _python(code, None)
  assert words[0] == 'None'
  assert "TensorFlow's default for this CPU" in ' '.join(words)


def test_enable_unless_chosen_keeps_an_explicit_value():
  environ = {onednn.VARIABLE: '0'}
  assert onednn.enable_unless_chosen(environ) == 'user'
  assert environ == {onednn.VARIABLE: '0'}


def _script(script, args, value):
  return subprocess.run([sys.executable, os.path.join(ROOT, script)] + args,
                        capture_output=True, text=True, cwd=ROOT, env=_environment(value),
                        timeout=300)


@pytest.mark.parametrize('script, args, value, line', [
    ('train_graph.py', ['--dataset_dir', '/nonexistent/signs'], None,
     'oneDNN CPU kernels on (legacy-resnet set TF_ENABLE_ONEDNN_OPTS=1'),
    ('eval_graph.py', ['--checkpoint_path', '/nonexistent/run'], '0',
     'oneDNN CPU kernels off (you set TF_ENABLE_ONEDNN_OPTS=0)')])
def test_verbose_says_which(script, args, value, line):
  result = _script(script, ['--verbose'] + args, value)
  assert result.returncode == 2, result.stderr  # The bad path ends the run after the line.
  assert line in result.stderr


def test_without_verbose_nothing_is_said():
  result = _script('eval_graph.py', ['--checkpoint_path', '/nonexistent/run'], None)
  assert result.returncode == 2, result.stderr
  assert 'oneDNN' not in result.stderr
