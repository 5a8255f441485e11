"""Every shell command and Python example of README.md and docs/*.md, run, so the
documentation cannot drift from the code; every ``module.name`` the text names from
legacy_resnet or nets, looked up; every relative link, followed.

The convention the documentation follows:

* Fenced blocks marked ```sh run with bash (``set -euo pipefail``), blocks marked
  ```python with this interpreter; other fences (``text``, ``json``, ...) are not run.
  ``.venv/bin/python``, ``python`` and ``python3`` in a shell block mean this interpreter.
* The blocks of one file run in order, from the root of a temporary copy of the
  repository (one copy per file), so a later block may use what an earlier one wrote.
  Outputs go under ``runs/``.
* In a Python block, ``print(...)  # TEXT`` also checks that TEXT is in the output.
* HTML comments on the lines right above a block change how it runs:

  ``<!-- doctest: sub OLD => NEW -->``  OLD (which must occur) is replaced by NEW first;
      the README's 12-minute default job gets ``--max_number_of_steps 2`` this way, and
      its venv set-up is dropped (the ``ci`` check below covers that set-up).
  ``<!-- doctest: seeded -->``  README.md only: the block runs in the second group (below).
  ``<!-- doctest: ci -->``  not run here: every ``&&``-separated command of the block must
      be a line of ``.ci/run`` (``--quiet`` aside), so the README's test command is what CI runs.
  ``<!-- doctest: skip REASON -->``  not run (installs, several machines); REASON required.
      ``skip the same command runs in PAGE`` is checked: PAGE must hold the same code.

Groups, each a test of its own so that they spread over the xdist workers: README.md's
blocks that are not seeded run from a clean copy (its first command trains ``runs/train``).
README.md's seeded blocks, and every docs/*.md page, each run from a copy that already
holds a tiny ``runs/train`` (``resnet_v1_50``, 2 steps, as the README's first command
makes it), trained once per worker. All of them are in the default tier (marked ``docs``:
``-m "not slow and not docs"`` leaves them out).
"""

import glob
import importlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys

import pytest
from scriptutil import ROOT
from test_architecture import module_files

pytestmark = pytest.mark.docs

FENCE = re.compile(r'^```(\w*)\s*$')
DIRECTIVE = re.compile(r'^<!--\s*doctest:\s*(\w+)\s*(.*?)\s*-->\s*$')
EXPECTED_PRINT = re.compile(r'^\s*print\(.*\)\s+#\s*(.+)$')
RUNNABLE = {'sh': 'sh', 'bash': 'sh', 'python': 'python'}
SHELL_PRELUDE = 'set -euo pipefail\npython() { "$PYTHON" "$@"; }\npython3() { "$PYTHON" "$@"; }\n'
NOT_COPIED = shutil.ignore_patterns('.git', '.venv', '.venv-oldest', 'runs', 'build', '*.egg-info',
                                    '__pycache__')
TIMEOUT = 900


class Block:
  """One fenced block: its language, code, file and line, and its doctest directives."""

  def __init__(self, path, line, language, code, directives):
    self.path, self.line, self.language, self.code = path, line, language, code
    self.directives = directives  # [(name, argument)]

  def has(self, name):
    return any(found == name for found, _ in self.directives)

  @property
  def where(self):
    return '%s:%d' % (os.path.relpath(self.path, ROOT), self.line)

  def runnable_code(self):
    code = self.code
    for name, argument in self.directives:
      if name == 'sub':
        old, new = [part.strip() for part in argument.split('=>')]
        assert old in code, '%s: doctest sub: %r does not occur' % (self.where, old)
        code = code.replace(old, new)
    return code


def read_blocks(path):
  """The blocks of a Markdown file, with the directives of the comment lines above each."""
  blocks, directives, language, code, start = [], [], None, [], 0
  with open(path, encoding='utf-8') as stream:
    for number, line in enumerate(stream, 1):
      fence = FENCE.match(line.strip())
      if language is None:
        directive = DIRECTIVE.match(line.strip())
        if directive:
          directives.append((directive.group(1), directive.group(2)))
        elif fence:
          language, code, start = fence.group(1), [], number
        elif line.strip():
          directives = []
      elif fence and not fence.group(1):
        blocks.append(Block(path, start, language, ''.join(code), directives))
        language, directives = None, []
      else:
        code.append(line)
  return blocks


def _check_directives(block):
  known = {'sub', 'seeded', 'ci', 'skip'}
  for name, argument in block.directives:
    assert name in known, '%s: unknown doctest directive %r' % (block.where, name)
    if name == 'skip':
      assert argument, '%s: doctest skip needs a reason' % block.where
    if name == 'sub':
      assert '=>' in argument, '%s: doctest sub needs OLD => NEW' % block.where


def run_block(block, folder):
  """Runs one block in ``folder``; an AssertionError names the block and shows its output."""
  code = block.runnable_code()
  env = dict(os.environ, PYTHON=sys.executable)
  if RUNNABLE[block.language] == 'sh':
    code = code.replace('.venv/bin/python', 'python')
    command = ['bash', '-c', SHELL_PRELUDE + code]
  else:
    command = [sys.executable, '-c', code]
  result = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT)
  assert result.returncode == 0, ('%s: the %s block exited %d\n%s\nstdout:\n%s\nstderr:\n%s'
                                  % (block.where, block.language, result.returncode, code,
                                     result.stdout[-3000:], result.stderr[-3000:]))
  if block.language == 'python':
    for line in code.splitlines():
      expected = EXPECTED_PRINT.match(line)
      if expected:
        assert expected.group(1).strip() in result.stdout, (
            '%s: printed %r, the comment says %r' % (block.where, result.stdout,
                                                     expected.group(1).strip()))


def check_ci_block(block):
  with open(os.path.join(ROOT, '.ci', 'run'), encoding='utf-8') as stream:
    ci_lines = {_normalized(line) for line in stream}
  for command in block.code.split('&&'):
    assert _normalized(command) in ci_lines, (
        '%s: %r is not a command of .ci/run' % (block.where, command.strip()))


def _normalized(command):
  return ' '.join(word for word in command.split() if word != '--quiet')


SAME_AS = 'the same command runs in '


def check_same_as(block):
  for name, argument in block.directives:
    if name == 'skip' and argument.startswith(SAME_AS):
      with open(os.path.join(ROOT, argument[len(SAME_AS):]), encoding='utf-8') as stream:
        assert block.code in stream.read(), '%s: not the same as in %s' % (block.where, argument)


def run_file(path, folder, seeded=None):
  """Runs the blocks of ``path`` of one group (seeded or not; None: all); returns how many
  ran."""
  ran = 0
  for block in read_blocks(path):
    _check_directives(block)
    check_same_as(block)
    if block.language not in RUNNABLE or block.has('skip'):
      continue
    if block.has('ci'):
      check_ci_block(block)
    elif seeded is None or block.has('seeded') == seeded:
      run_block(block, folder)
      ran += 1
  return ran


def repository_copy(folder):
  shutil.copytree(ROOT, folder, ignore=NOT_COPIED)
  os.makedirs(os.path.join(folder, 'runs'), exist_ok=True)
  return str(folder)


@pytest.fixture(scope='session')
def trained_runs(tmp_path_factory):
  """A ``runs/train`` as the README's first command leaves it (2 steps)."""
  folder = repository_copy(tmp_path_factory.mktemp('trained') / 'repo')
  subprocess.run([sys.executable, 'train_graph.py', '--train_dir', 'runs/train',
                  '--max_number_of_steps', '2'], cwd=folder, check=True,
                 capture_output=True, timeout=TIMEOUT)
  return os.path.join(folder, 'runs', 'train')


def _seeded_copy(folder, trained_runs):
  copy = repository_copy(folder)
  shutil.copytree(trained_runs, os.path.join(copy, 'runs', 'train'))
  return copy


def test_readme_blocks_run(tmp_path):
  assert run_file(os.path.join(ROOT, 'README.md'), repository_copy(tmp_path / 'repo'),
                  seeded=False) > 0


def test_readme_seeded_blocks_run(tmp_path, trained_runs):
  assert run_file(os.path.join(ROOT, 'README.md'), _seeded_copy(tmp_path / 'repo', trained_runs),
                  seeded=True) > 0


DOC_PAGES = sorted(glob.glob(os.path.join(ROOT, 'docs', '*.md')))


def require_a_checked_block(path):
  """Fails for a page with neither a runnable block nor one marked skip (with its reason)."""
  assert any(block.language in RUNNABLE for block in read_blocks(path)), (
      '%s has neither a runnable nor a marked-skip block: show the page\'s task as a '
      'command or Python block' % os.path.relpath(path, ROOT))


@pytest.mark.parametrize('page', DOC_PAGES, ids=os.path.basename)
def test_doc_page_blocks_run(page, tmp_path, trained_runs):
  require_a_checked_block(page)
  run_file(page, _seeded_copy(tmp_path / 'repo', trained_runs))


def test_a_page_without_a_checked_block_fails(tmp_path):
  page = tmp_path / 'page.md'
  page.write_text('# Prose only\n\n```\nan unmarked listing\n```\n')
  with pytest.raises(AssertionError, match='neither a runnable nor a marked-skip block'):
    require_a_checked_block(str(page))
  page.write_text('<!-- doctest: skip needs two machines -->\n```sh\nssh other\n```\n')
  require_a_checked_block(str(page))


# `module.name(...)` or `module.name` in the text (not a file name such as `eval_cli.py`).
PROSE_CALL = re.compile(r'`(?:legacy_resnet\.|nets\.)?(\w+)\.(?!py`)(\w+)[(`]')


def _project_modules():
  """{a module's own name: its dotted name}, for legacy_resnet's wings and nets."""
  return {module.rsplit('.', 1)[1]: module
          for module, path in sorted(module_files(ROOT).items(), reverse=True)
          if not path.endswith('__init__.py')}


def functions_not_found(text):
  """The ``module.function`` names of ``text`` whose module is one of legacy_resnet's or
  nets' and has no such attribute (a function renamed or moved since the text was written)."""
  modules = _project_modules()
  return ['%s.%s' % (module_name, name) for module_name, name in PROSE_CALL.findall(text)
          if module_name in modules
          and not hasattr(importlib.import_module(modules[module_name]), name)]


def test_functions_named_in_the_text_exist():
  assert functions_not_found('`compat.session_config(...)`, `tf.constant(1)`, `eval_cli.py`, '
                             '`sessions.session_config(...)`, `plots.heatmap`') == [
                                 'compat.session_config', 'plots.heatmap']
  for path in [os.path.join(ROOT, 'README.md')] + DOC_PAGES:
    with open(path, encoding='utf-8') as stream:
      assert not functions_not_found(stream.read()), path


# A Markdown link or image: [text](target) or ![alt](target).
LINK = re.compile(r'\]\(([^)\s]+)\)')


def _anchor(heading):
  """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as '-'."""
  return re.sub(r'[^\w\- ]', '', heading.strip().lower()).replace(' ', '-')


def broken_links(path):
  """The relative links of the Markdown file ``path`` whose file, or heading, is missing."""
  with open(path, encoding='utf-8') as stream:
    text = stream.read()
  broken = []
  for target in LINK.findall(text):
    if re.match(r'\w+:', target):
      continue  # https:, mailto: and the like
    file_part, _, anchor = target.partition('#')
    linked = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
    if not os.path.exists(linked):
      broken.append(target)
    elif anchor:
      with open(linked, encoding='utf-8') as stream:
        anchors = {_anchor(line.lstrip('#')) for line in stream if line.startswith('#')}
      if anchor not in anchors:
        broken.append(target)
  return broken


def test_relative_links_lead_somewhere(tmp_path):
  page = tmp_path / 'page.md'
  page.write_text('# Speed on every CPU\n[a](#speed-on-every-cpu) [b](page.md#speed-on-every-cpu) '
                  '[c](#no-such-heading) ![d](missing.png) [e](https://example.com/x)\n')
  assert broken_links(str(page)) == ['#no-such-heading', 'missing.png']
  for path in [os.path.join(ROOT, 'README.md'), os.path.join(ROOT, 'bench', 'README.md')] + DOC_PAGES:
    assert not broken_links(path), path


def test_directives_are_parsed_and_checked(tmp_path):
  page = tmp_path / 'page.md'
  page.write_text('<!-- doctest: sub --a => --b -->\n```sh\necho --a\n```\n\n'
                  'text\n```python\nprint(1 + 1)  # 2\n```\n'
                  '<!-- doctest: skip no reason needed here -->\n```sh\nfalse\n```\n')
  blocks = read_blocks(str(page))
  assert [block.language for block in blocks] == ['sh', 'python', 'sh']
  assert blocks[0].runnable_code() == 'echo --b\n' and not blocks[1].directives
  assert run_file(str(page), str(tmp_path), seeded=False) == 2
  wrong = tmp_path / 'wrong.md'
  wrong.write_text('```python\nprint(1 + 1)  # 3\n```\n')
  with pytest.raises(AssertionError, match='the comment says'):
    run_file(str(wrong), str(tmp_path), seeded=False)
