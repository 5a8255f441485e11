"""The package's shape (docs/architecture.md): wings small enough to read, imports that
run only downwards between legacy_resnet's wings, nets needing nothing of legacy_resnet
but the compatibility layer, and no import cycle between modules."""

import ast
import os
import subprocess
import sys

import pytest
from scriptutil import ROOT

import legacy_resnet

MAX_MODULES_PER_PACKAGE = 12


def project_imports(path):
  """The legacy_resnet and nets modules that the source file ``path`` imports."""
  with open(path, encoding='utf-8') as stream:
    tree = ast.parse(stream.read())
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
      names = ['%s.%s' % (node.module, alias.name) for alias in node.names]
    else:
      continue
    yield from (name for name in names if name.split('.')[0] in ('legacy_resnet', 'nets'))


def module_files(root):
  """{dotted module name: file} of the legacy_resnet and nets packages under ``root``."""
  found = {}
  for package in ('legacy_resnet', 'nets'):
    for folder, _, files in os.walk(os.path.join(root, package)):
      for name in files:
        if name.endswith('.py'):
          parts = os.path.relpath(os.path.join(folder, name[:-3]), root).split(os.sep)
          found['.'.join(parts[:-1] if parts[-1] == '__init__' else parts)] = (
              os.path.join(folder, name))
  return found


def wing_of(module):
  """The wing of legacy_resnet that ``module`` belongs to, or None (the package itself,
  nets)."""
  parts = module.split('.')
  return parts[1] if parts[0] == 'legacy_resnet' and len(parts) > 1 else None


def upward_imports(root, wings):
  """'importer -> imported' for every import from a wing above the importer's own or by
  a name from before the wings, and every import of legacy_resnet by nets beyond the
  compatibility layer."""
  rank = {wing: index for index, wing in enumerate(wings)}
  found = []
  for module, path in sorted(module_files(root).items()):
    for imported in project_imports(path):
      own, theirs = wing_of(module), wing_of(imported)
      if module.startswith('nets'):
        bad = imported.startswith('legacy_resnet') and imported != 'legacy_resnet.core.compat'
      else:
        bad = own and theirs and rank.get(theirs, len(rank)) > rank[own]
      if bad:
        found.append('%s -> %s' % (module, imported))
  return found


def cycles(root):
  """Module import cycles among legacy_resnet's and nets' modules, each as a list."""
  files = module_files(root)
  graph = {module: {imported if imported in files else imported.rsplit('.', 1)[0]
                    for imported in project_imports(path)} & set(files)
           for module, path in files.items()}
  found, state = [], {}

  def visit(module, stack):
    state[module] = 'open'
    for imported in sorted(graph[module]):
      if state.get(imported) == 'open':
        found.append(stack[stack.index(imported):] + [imported])
      elif imported not in state:
        visit(imported, stack + [imported])
    state[module] = 'done'

  for module in sorted(graph):
    if module not in state:
      visit(module, [module])
  return found


def test_every_wing_is_listed_and_holds_at_most_a_dozen_modules():
  root = os.path.join(ROOT, 'legacy_resnet')
  packages = sorted(name for name in os.listdir(root)
                    if os.path.isfile(os.path.join(root, name, '__init__.py')))
  assert packages == sorted(legacy_resnet.WINGS)
  for folder in [root, os.path.join(ROOT, 'nets')] + [os.path.join(root, p) for p in packages]:
    modules = [name for name in os.listdir(folder)
               if name.endswith('.py') and name != '__init__.py']
    assert len(modules) <= MAX_MODULES_PER_PACKAGE, folder


def test_no_wing_shadows_a_standard_library_module():
  # A folder of legacy_resnet on sys.path (a child's PYTHONPATH, a script run inside it)
  # would otherwise hide the standard library's module from everything in the process.
  assert not set(legacy_resnet.WINGS) & sys.stdlib_module_names


def test_imports_run_down_the_wings_only():
  assert upward_imports(ROOT, legacy_resnet.WINGS) == []


def test_modules_keep_their_names_from_before_the_wings():
  from legacy_resnet import compat, training  # pylint: disable=g-import-not-at-top
  assert (compat.__name__, training.__name__) == ('legacy_resnet.core.compat',
                                                  'legacy_resnet.train.training')
  with pytest.raises(ImportError):
    from legacy_resnet import no_such_module  # noqa: F401  pylint: disable=g-import-not-at-top


def test_no_import_cycle():
  assert cycles(ROOT) == []


@pytest.fixture
def tiny_project(tmp_path):
  """A legacy_resnet with wings low and high, and a nets, to break in each test."""
  for folder in ('legacy_resnet/low', 'legacy_resnet/high', 'nets'):
    (tmp_path / folder).mkdir(parents=True)
    (tmp_path / folder / '__init__.py').write_text('')
  (tmp_path / 'legacy_resnet/low/base.py').write_text('import os\n')
  (tmp_path / 'legacy_resnet/high/top.py').write_text(
      'from legacy_resnet.low import base\n')
  (tmp_path / 'nets/net.py').write_text('from legacy_resnet.core import compat\n')
  return tmp_path


def test_the_checks_fail_on_an_upward_import_a_reach_from_nets_and_a_cycle(tiny_project):
  wings = ('low', 'high')
  assert upward_imports(tiny_project, wings) == [] and cycles(tiny_project) == []
  (tiny_project / 'legacy_resnet/low/base.py').write_text(
      'from legacy_resnet.high import top\n')
  (tiny_project / 'legacy_resnet/high/flat.py').write_text('from legacy_resnet import base\n')
  (tiny_project / 'nets/net.py').write_text('from legacy_resnet.low import base\n')
  assert upward_imports(tiny_project, wings) == [
      'legacy_resnet.high.flat -> legacy_resnet.base',
      'legacy_resnet.low.base -> legacy_resnet.high.top', 'nets.net -> legacy_resnet.low.base']
  assert cycles(tiny_project) == [['legacy_resnet.high.top', 'legacy_resnet.low.base',
                                   'legacy_resnet.high.top']]


def test_nets_loads_alone_and_brings_the_compatibility_layer_only():
  code = ('import sys, nets.nets_factory; '
          'print(sorted({m.split(".")[1] for m in sys.modules '
          'if m.startswith("legacy_resnet.")}))')
  result = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True,
                          text=True, check=True)
  assert result.stdout.strip() == "['core']"
