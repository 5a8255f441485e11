"""Runs a script (``PATH args...``) or a module (``-m NAME args...``) as ``python``
would, then writes this process's own peak resident memory in KiB to the file named
first on the command line.

The peak is the kernel's VmHWM of the running program's address space. ``ru_maxrss``
from ``wait4`` cannot say it: a process forked from a large test process keeps that
process's high-water mark across ``exec``.
"""

import os
import runpy
import sys


def vm_hwm_kib():
  with open('/proc/self/status') as status:
    for line in status:
      if line.startswith('VmHWM:'):
        return int(line.split()[1])
  raise RuntimeError('/proc/self/status has no VmHWM line')


def main():
  out, target = sys.argv[1:3]
  sys.path[0] = os.getcwd()  # As for `python script` run from the project's folder.
  try:
    if target == '-m':
      module = sys.argv[3]
      sys.argv = [module] + sys.argv[4:]
      runpy.run_module(module, run_name='__main__', alter_sys=True)
    else:
      sys.argv = sys.argv[2:]
      runpy.run_path(target, run_name='__main__')
  finally:
    with open(out, 'w') as stream:
      stream.write('%d\n' % vm_hwm_kib())


if __name__ == '__main__':
  main()
