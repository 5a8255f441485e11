"""The number format the network computes in (``--precision``): float32, bfloat16 on CPUs
with bfloat16 instructions, or float16 on a GPU.

Mixed precision is grappler's graph rewrite, not a different graph: variables, batch-norm
statistics, loss and update stay float32, so the built graph, its variable names and its
checkpoints are the float32 ones (any precision restores any other's), and tf-slim's
exactness tests still pin that graph down. bfloat16 is refused, never emulated, where
oneDNN cannot run it natively: a CPU without ``avx512_bf16`` or ``amx_bf16``, oneDNN capped
below it by ``ONEDNN_MAX_CPU_ISA`` (``=AVX2`` shows anywhere what an AVX2-only CPU says), or
oneDNN off. float16 runs on a GPU only, with dynamic loss scaling: small gradients do not
flush to zero, and an overflow skips the update and lowers the scale.
"""

import os

from legacy_resnet.core.errors import SettingError

FLOAT32, BFLOAT16, FLOAT16 = 'float32', 'bfloat16', 'float16'
PRECISIONS = (FLOAT32, BFLOAT16, FLOAT16)
DEFAULT = FLOAT32

ISA_VARIABLE = 'ONEDNN_MAX_CPU_ISA'
CPUINFO = '/proc/cpuinfo'
# /proc/cpuinfo flags that give oneDNN native bfloat16 kernels.
BFLOAT16_CPU_FLAGS = ('avx512_bf16', 'amx_bf16')
# ONEDNN_MAX_CPU_ISA values (oneDNN's names) that leave its bfloat16 kernels usable; every
# lower cap (AVX2, AVX512_CORE_VNNI, ...) leaves only emulation.
BFLOAT16_ISAS = ('AVX512_CORE_BF16', 'AVX10_1_512', 'AVX512_CORE_FP16', 'AVX10_1_512_AMX',
                 'AVX512_CORE_AMX', 'AVX10_1_512_AMX_FP16', 'AVX512_CORE_AMX_FP16', 'ALL', 'DEFAULT')
# Where the loss-scaling optimizer of float16 keeps its state; not part of a checkpoint's
# model, so float16 and float32 runs resume from each other's checkpoints.
LOSS_SCALE_SCOPE = 'loss_scale'


def cpu_flags(cpuinfo=CPUINFO):
  """The CPU's feature flags: the first ``flags`` line of ``cpuinfo`` (empty if unreadable)."""
  try:
    with open(cpuinfo, encoding='ascii', errors='replace') as stream:
      return next((set(line.partition(':')[2].split()) for line in stream if line.startswith('flags')), set())
  except OSError:
    return set()


def bfloat16_refusal(environ=None, flags=None, onednn_on=None):
  """Why this process cannot run bfloat16 natively, or None. Defaults: ``os.environ``,
  ``cpu_flags()``, and TensorFlow's answer to whether its oneDNN kernels are on."""
  environ = os.environ if environ is None else environ
  flags = cpu_flags() if flags is None else flags
  if not any(flag in flags for flag in BFLOAT16_CPU_FLAGS):
    return ('this CPU has no bfloat16 instructions (neither %s in %s); TensorFlow would '
            'emulate them, slower than float32; use --precision float32'
            % (' nor '.join(BFLOAT16_CPU_FLAGS), CPUINFO))
  cap = environ.get(ISA_VARIABLE, '').strip().upper()
  if cap and cap not in BFLOAT16_ISAS:
    return ('%s=%s caps oneDNN below its bfloat16 kernels (AVX512_CORE_BF16 or higher); '
            'unset it or use --precision float32' % (ISA_VARIABLE, environ[ISA_VARIABLE]))
  if onednn_on is None:
    from legacy_resnet.core import onednn  # pylint: disable=g-import-not-at-top
    onednn_on = onednn.enabled()
  if not onednn_on:
    return ("TensorFlow's oneDNN kernels are off (TF_ENABLE_ONEDNN_OPTS=0), and its other "
            'kernels emulate bfloat16; unset the variable or use --precision float32')
  return None


def check(precision, gpus=None, environ=None, flags=None, onednn_on=None):
  """Raises SettingError when ``precision`` cannot run natively here; ``gpus`` default to
  TensorFlow's, the rest as in ``bfloat16_refusal``."""
  if precision == FLOAT32:
    return
  if gpus is None:
    from legacy_resnet.core import sessions  # pylint: disable=g-import-not-at-top
    gpus = sessions.gpus()
  if precision == FLOAT16:
    if not gpus:
      raise SettingError('{precision} float16: needs a GPU and TensorFlow sees none; CPUs '
                         'have no fast float16 training kernels (use bfloat16 or float32)')
    return
  if precision != BFLOAT16:
    raise SettingError('{precision} %s: not one of %s', precision, ', '.join(PRECISIONS))
  if gpus:
    raise SettingError('{precision} bfloat16: is for CPUs (oneDNN); on a GPU use '
                       '{precision} float16')
  reason = bfloat16_refusal(environ, flags, onednn_on)
  if reason:
    raise SettingError('{precision} bfloat16: %s', reason)


def configure(config, precision):
  """``config`` (a ConfigProto) with the graph rewrite of ``precision`` turned on."""
  rewrites = config.graph_options.rewrite_options
  if precision == BFLOAT16:
    rewrites.auto_mixed_precision_onednn_bfloat16 = rewrites.ON
  elif precision == FLOAT16:
    rewrites.auto_mixed_precision = rewrites.ON
  return config


def wrap_optimizer(precision, wrap=None):
  """The function from an optimizer to the one that applies the gradients: ``wrap`` (or
  None), around float16's dynamic loss scaling."""
  if precision != FLOAT16:
    return wrap

  def wrapped(optimizer):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    with tf.compat.v1.variable_scope(LOSS_SCALE_SCOPE):
      scaled = tf.compat.v1.mixed_precision.MixedPrecisionLossScaleOptimizer(optimizer, 'dynamic')
    return wrap(scaled) if wrap else scaled

  return wrapped


def model_state(variables):
  """``variables`` (a {name: variable} dict) without the loss-scaling state."""
  return {name: variable for name, variable in variables.items()
          if '/%s/' % LOSS_SCALE_SCOPE not in '/' + name}
