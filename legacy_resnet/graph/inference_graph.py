"""The inference graph of one output of a restored session: variables made constants and
each inference-mode batch norm folded into the convolution before it.

The filter is multiplied by ``scale = gamma / sqrt(variance + epsilon)`` per output channel
and the batch norm becomes, under its own name, a ``BiasAdd`` of ``beta + (b - mean) *
scale`` (``b``: the convolution's own bias, else 0). Grappler then fuses convolution, bias,
residual addition and ReLU into one kernel, which it cannot do around a batch norm.
"""

import collections

import numpy as np
import tensorflow as tf

_BATCH_NORMS = ('FusedBatchNorm', 'FusedBatchNormV2', 'FusedBatchNormV3')


def _node_name(tensor_name):
  return tensor_name.lstrip('^').split(':')[0]


def _constant_behind(nodes, tensor_name):
  """The Const node ``tensor_name`` reads through Identity nodes (as frozen variables), or None."""
  node = nodes[_node_name(tensor_name)]
  while node.op == 'Identity':
    node = nodes[_node_name(node.input[0])]
  return node if node.op == 'Const' else None


def _constant(name, value):
  node = tf.compat.v1.NodeDef(name=name, op='Const')
  node.attr['dtype'].type = tf.as_dtype(value.dtype).as_datatype_enum
  node.attr['value'].tensor.CopyFrom(tf.make_tensor_proto(value))
  return node


def _foldable(batch_norm, nodes, readers):
  """(convolution, filter, convolution bias, [gamma, beta, mean, variance]) when
  ``batch_norm`` can be folded: inference mode, only its normalized output read, fed
  by a Conv2D (or a Conv2D and its BiasAdd) that nothing else reads, all parameters
  constant. Else None."""
  if (batch_norm.op not in _BATCH_NORMS or batch_norm.attr['is_training'].b
      or any(output != 0 for output in readers[batch_norm.name])):
    return None
  convolution = nodes[_node_name(batch_norm.input[0])]
  constant_inputs = list(batch_norm.input[1:5])
  has_bias = convolution.op == 'BiasAdd'
  if has_bias:
    if len(readers[convolution.name]) != 1:
      return None
    constant_inputs.append(convolution.input[1])
    convolution = nodes[_node_name(convolution.input[0])]
  if convolution.op != 'Conv2D' or len(readers[convolution.name]) != 1:
    return None
  constants = [_constant_behind(nodes, name) for name in [convolution.input[1]] + constant_inputs]
  if any(constant is None for constant in constants):
    return None
  kernel, gamma, beta, mean, variance, *bias = [
      tf.make_ndarray(constant.attr['value'].tensor) for constant in constants]
  return convolution, kernel, bias[0] if has_bias else 0.0, [gamma, beta, mean, variance]


def fold_batch_norms(graph_def, output_names):
  """(a copy of ``graph_def`` (variables made constants) with every foldable batch norm
  folded, pruned to what the nodes ``output_names`` need; the number folded)."""
  folded_def = tf.compat.v1.GraphDef()
  folded_def.CopyFrom(graph_def)
  nodes = {node.name: node for node in folded_def.node}
  readers = collections.defaultdict(list)  # node name -> output index of each read
  for name in (name for node in folded_def.node for name in node.input if name[0] != '^'):
    readers[_node_name(name)].append(int(name.partition(':')[2] or 0))
  new_constants = []
  for batch_norm in list(folded_def.node):
    found = _foldable(batch_norm, nodes, readers)
    if found is None:
      continue
    convolution, kernel, convolution_bias, (gamma, beta, mean, variance) = found
    scale = gamma / np.sqrt(variance + batch_norm.attr['epsilon'].f)
    # The filter is [height, width, in, out] in either data format.
    new_kernel = _constant(convolution.name + '/folded_filter', (kernel * scale).astype(kernel.dtype))
    bias = _constant(batch_norm.name + '/folded_bias',
                     (beta + (convolution_bias - mean) * scale).astype(kernel.dtype))
    convolution.input[1] = new_kernel.name
    data_format, dtype = batch_norm.attr['data_format'].s, batch_norm.attr['T'].type
    batch_norm.op = 'BiasAdd'
    del batch_norm.input[:]
    batch_norm.input.extend([convolution.name, bias.name])
    batch_norm.ClearField('attr')
    batch_norm.attr['T'].type = dtype
    batch_norm.attr['data_format'].s = data_format
    new_constants += [new_kernel, bias]
  folded_def.node.extend(new_constants)
  return (tf.compat.v1.graph_util.extract_sub_graph(folded_def, list(output_names)), len(new_constants) // 2)


class FrozenOutput:
  """One output of a restored session, recomputed by a graph of constants with the batch
  norms folded (faster on a CPU: bench/README.md, "Results"). ``inputs``, ``output``: the
  frozen graph's tensors; ``session``: its session; ``folded``: batch norms folded (0 with
  ``fold=False``, the reference the fold is measured against)."""

  def __init__(self, session, inputs, output, config, fold=True):
    graph_def = tf.compat.v1.graph_util.convert_variables_to_constants(
        session, session.graph.as_graph_def(), [output.op.name])
    self.folded = 0
    if fold:
      graph_def, self.folded = fold_batch_norms(graph_def, [output.op.name])
    graph = tf.Graph()
    with graph.as_default():
      self.inputs, self.output = tf.compat.v1.import_graph_def(
          graph_def, return_elements=[inputs.name, output.name], name='')
    graph.finalize()
    self.session = tf.compat.v1.Session(graph=graph, config=config)
