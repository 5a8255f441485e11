"""What a cluster opens to the network: TensorFlow's server listens on every interface
whatever host the cluster names, so a ps or worker says so in one warning line, and
launch_local runs its cluster in a private network namespace with loopback only
(measured in /proc/<pid>/net)."""

import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest
from scriptutil import ROOT

from legacy_resnet.scale_out import cluster
from legacy_resnet.scale_out import launch_local

START_SECS = 180  # A ps that never comes up fails the test instead of stalling it.
TCP_LISTEN = '0A'


def listening_sockets(pid='self'):
  """{(local address hex, port)} of the TCP sockets listening in ``pid``'s network
  namespace, from /proc/<pid>/net/tcp and tcp6."""
  found = set()
  for name in ('tcp', 'tcp6'):
    with open('/proc/%s/net/%s' % (pid, name)) as table:
      for line in table.readlines()[1:]:
        fields = line.split()
        address, port = fields[1].split(':')
        if fields[3] == TCP_LISTEN:
          found.add((address, int(port, 16)))
  return found


def interfaces(pid):
  with open('/proc/%s/net/dev' % pid) as table:
    return sorted(line.split(':')[0].strip() for line in table.readlines()[2:])


def wait_for_line(process, pattern):
  """The first match of ``pattern`` in ``process``'s stdout, read line by line."""
  deadline = time.monotonic() + START_SECS
  for line in iter(process.stdout.readline, ''):
    match = re.search(pattern, line)
    if match:
      return match
    assert time.monotonic() < deadline, 'no line matching %r in time' % pattern
  raise AssertionError('%r never printed; exit status %s' % (pattern, process.wait()))


def stop(process):
  if process.poll() is None:
    process.send_signal(signal.SIGTERM)
    try:
      process.wait(30)
    except subprocess.TimeoutExpired:
      process.kill()
      process.wait()


@pytest.mark.slow  # The warning line alone is checked in the default tier (test_distributed).
def test_a_loopback_ps_listens_on_every_interface_and_warns_so():
  ps = dict(launch_local.commands(1, 1, ['--ps_timeout_secs', '60']))['ps:0']
  address = ps[ps.index('--ps_hosts') + 1]
  port = int(address.rsplit(':', 1)[1])
  process = subprocess.Popen(ps, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             cwd=ROOT)
  try:
    wait_for_line(process, r'ps 0 \(%s\) listening on port %d of every network interface'
                  % (re.escape(address), port))
    # What the warning says: the wildcard address (IPv6 any, dual-stack), not 127.0.0.1.
    assert ('00000000000000000000000000000000', port) in listening_sockets()
    assert ('0100007F', port) not in listening_sockets()
  finally:
    stop(process)
  stderr = process.stderr.read().splitlines()
  assert stderr[0] == (
      'warning: port %d is open on every network interface, not only on 127.0.0.1: '
      'TensorFlow\'s server runs any graph an unauthenticated client sends, file reads '
      'and writes included; use it only on a trusted network or behind a firewall '
      '(docs/security.md)' % port)
  assert not any('Traceback' in line for line in stderr)


def test_launch_local_runs_its_cluster_where_only_loopback_reaches_it(tmp_path):
  process = subprocess.Popen(
      [sys.executable, '-m', 'legacy_resnet.scale_out.launch_local', '--ps', '1', '--workers', '1',
       '--timeout', str(START_SECS), '--', '--train_dir', str(tmp_path / 'train'),
       '--model_name', 'resnet_v1_18', '--batch_size', '2'],
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
  try:
    port = int(wait_for_line(process, r'\[ps:0\] ps 0 \(127\.0\.0\.1:(\d+)\) listening on '
                             r'port \d+ of a private network namespace').group(1))
    # The launcher (same pid after re-running itself through unshare) and its ps share
    # a namespace of their own, whose only interface is loopback; this one sees no ps.
    assert os.readlink('/proc/%d/ns/net' % process.pid) != os.readlink('/proc/self/ns/net')
    assert interfaces(process.pid) == ['lo']
    assert port in {port for _, port in listening_sockets(process.pid)}
    assert port not in {port for _, port in listening_sockets()}
  finally:
    stop(process)
  assert 'warning:' not in process.stderr.read()


def test_launch_local_warns_when_it_cannot_make_a_private_network(monkeypatch, capsys):
  monkeypatch.setenv('PATH', '')  # No unshare command to be found.
  assert launch_local.unshare_argv() == (None, 'no unshare command')
  launch_local.enter_private_network(['--', '--max_number_of_steps', '1'])
  assert capsys.readouterr().err == (
      'warning: cannot run the cluster in a private network namespace (no unshare '
      'command): its ports are open on every network interface to unauthenticated '
      'clients (docs/security.md)\n')


def test_only_a_loopback_only_namespace_goes_without_the_warning(monkeypatch):
  task = cluster.from_flags('127.0.0.1:2222', '127.0.0.1:2223', 'worker', 0)
  monkeypatch.setattr(socket, 'if_nameindex', lambda: [(1, 'lo'), (2, 'eth0')])
  assert cluster.exposure_warning(task).startswith('warning: port 2223 is open on every')
  assert cluster.listening_on(task) == 'port 2223 of every network interface'
  monkeypatch.setattr(socket, 'if_nameindex', lambda: [(1, 'lo')])
  assert cluster.exposure_warning(task) is None
