"""The number format the network computes in (``--precision``): float32, bfloat16 on
CPUs that have bfloat16 instructions, or float16 on a GPU.

Mixed precision is a graph rewrite, not a different graph: the session's graph
optimizer (grappler) turns the convolutions, batch norms, pooling and their gradients
into bfloat16 or float16 ops and inserts the casts, while the variables, the batch-norm
statistics, the loss and the optimizer's update stay float32. So the graph that is
built, its variable names and its checkpoints are exactly the float32 ones, and a
checkpoint written in one precision restores in any other. The explicit alternative,
casting the activations inside the network and reading float32 variables through a
custom getter, would change the graph that tf-slim's exactness tests pin down, and
would need its own cast for every variable read.

bfloat16 is refused, never emulated, where oneDNN cannot run it natively: a CPU
without ``avx512_bf16`` or ``amx_bf16`` (AVX2-only CPUs), oneDNN capped below its
bfloat16 instruction set by ``ONEDNN_MAX_CPU_ISA``, or TensorFlow's oneDNN kernels
turned off (its other kernels would emulate bfloat16 at a fraction of float32 speed).
``ONEDNN_MAX_CPU_ISA=AVX2`` therefore shows on any machine what an AVX2-only CPU says.

float16 runs on a GPU only (CPUs have no fast float16 training kernels), with dynamic
loss scaling: the loss is multiplied by a scale before the gradients are taken, so
small float16 gradients do not flush to zero, and the update is skipped and the scale
lowered when a gradient overflows.
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
# ONEDNN_MAX_CPU_ISA values (oneDNN's names, upper case) that leave its bfloat16 kernels
# usable; every lower cap (SSE41, AVX, AVX2, AVX2_VNNI, AVX2_VNNI_2, AVX512_CORE,
# AVX512_CORE_VNNI) leaves only emulation.
BFLOAT16_ISAS = ('AVX512_CORE_BF16', 'AVX10_1_512', 'AVX512_CORE_FP16', 'AVX10_1_512_AMX',
                 'AVX512_CORE_AMX', 'AVX10_1_512_AMX_FP16', 'AVX512_CORE_AMX_FP16', 'ALL',
                 'DEFAULT')
# Where the loss-scaling optimizer of float16 keeps its state; not part of a checkpoint's
# model, so float16 and float32 runs resume from each other's checkpoints.
LOSS_SCALE_SCOPE = 'loss_scale'


def cpu_flags(cpuinfo=CPUINFO):
  """The CPU's feature flags, from the first ``flags`` line of ``cpuinfo`` (empty when
  the file cannot be read)."""
  try:
    with open(cpuinfo, encoding='ascii', errors='replace') as stream:
      for line in stream:
        if line.startswith('flags'):
          return set(line.partition(':')[2].split())
  except OSError:
    pass
  return set()


def bfloat16_refusal(environ=None, flags=None, onednn_on=None):
  """Why this process cannot train or evaluate in bfloat16 natively, or None.

  Args:
    environ: the environment (default: ``os.environ``).
    flags: the CPU's feature flags (default: ``cpu_flags()``).
    onednn_on: whether TensorFlow runs its oneDNN kernels (default: asks TensorFlow).
  """
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
  """Raises SettingError (``{precision} VALUE: why``) when ``precision`` cannot run
  natively here; ``gpus`` is the list of GPUs (default: TensorFlow's), the rest as in
  ``bfloat16_refusal``."""
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
  """Turns on, in the ConfigProto ``config``, the graph rewrite of ``precision``;
  returns ``config``. float32 leaves it unchanged."""
  from tensorflow.core.protobuf import rewriter_config_pb2  # pylint: disable=g-import-not-at-top
  on = rewriter_config_pb2.RewriterConfig.ON
  rewrites = config.graph_options.rewrite_options
  if precision == BFLOAT16:
    rewrites.auto_mixed_precision_onednn_bfloat16 = on
  elif precision == FLOAT16:
    rewrites.auto_mixed_precision = on
  return config


def wrap_optimizer(precision, wrap=None):
  """The function from an optimizer to the one that applies the gradients: ``wrap``
  (or none), and for float16 dynamic loss scaling around it; None when there is
  nothing to wrap."""
  if precision != FLOAT16:
    return wrap

  def wrapped(optimizer):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    with tf.compat.v1.variable_scope(LOSS_SCALE_SCOPE):
      scaled = tf.compat.v1.mixed_precision.MixedPrecisionLossScaleOptimizer(
          optimizer, 'dynamic')
    return wrap(scaled) if wrap else scaled

  return wrapped


def model_state(variables):
  """``variables`` (a {name: variable} dict) without the loss-scaling state."""
  return {name: variable for name, variable in variables.items()
          if not name.startswith(LOSS_SCALE_SCOPE + '/')
          and '/' + LOSS_SCALE_SCOPE + '/' not in name}
