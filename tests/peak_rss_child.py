"""Runs a script (``PATH args...``) or a module (``-m NAME args...``) as ``python``
would, then writes this process's own peak resident memory in KiB to the file named
first on the command line.

The peak is the kernel's VmHWM of the running program's address space. ``ru_maxrss``
from ``wait4`` cannot say it: a process forked from a large test process keeps that
process's high-water mark across ``exec``.
"""

import sys

import scriptutil


def vm_hwm_kib():
  with open('/proc/self/status') as status:
    for line in status:
      if line.startswith('VmHWM:'):
        return int(line.split()[1])
  raise RuntimeError('/proc/self/status has no VmHWM line')


def main():
  out = sys.argv[1]
  try:
    scriptutil.run_as_main(sys.argv[2:])
  finally:
    with open(out, 'w') as stream:
      stream.write('%d\n' % vm_hwm_kib())


if __name__ == '__main__':
  main()
