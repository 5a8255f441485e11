"""Classification metrics from predicted probabilities (pure numpy)."""

import numpy as np

PROBABILITY_FLOOR = 1e-12  # keeps log(0) finite in the loss.


def classification_report(labels, probabilities, class_names):
  """{'accuracy', 'loss' (mean cross-entropy), 'num_examples', 'confusion_matrix' (nested
  lists, row = true class, column = predicted), 'per_class' ([{'class', 'precision',
  'recall', 'support'}])} of int ``labels`` [N] and ``probabilities`` [N, C]."""
  predictions = np.argmax(probabilities, axis=1)
  matrix = np.zeros((len(class_names),) * 2, dtype=np.int64)
  np.add.at(matrix, (labels, predictions), 1)
  true_positives, predicted, actual = np.diag(matrix), matrix.sum(axis=0), matrix.sum(axis=1)
  picked = probabilities[np.arange(len(labels)), labels]
  per_class = [{
      'class': str(name),
      'precision': float(true_positives[i] / predicted[i]) if predicted[i] else 0.0,
      'recall': float(true_positives[i] / actual[i]) if actual[i] else 0.0,
      'support': int(actual[i]),
  } for i, name in enumerate(class_names)]
  return {
      'accuracy': float(np.mean(predictions == labels)),
      'loss': float(-np.mean(np.log(np.maximum(picked, PROBABILITY_FLOOR)))),
      'num_examples': int(len(labels)),
      'confusion_matrix': matrix.tolist(),
      'per_class': per_class,
  }


def format_report(report):
  """The report as console text: a summary line, per-class table, confusion matrix."""
  names = [row['class'] for row in report['per_class']]
  return '\n'.join(
      ['accuracy %.4f  loss %.4f  examples %d'
       % (report['accuracy'], report['loss'], report['num_examples']),
       '%-12s %9s %9s %8s' % ('class', 'precision', 'recall', 'support')]
      + ['%-12s %9.3f %9.3f %8d' % (row['class'], row['precision'], row['recall'], row['support'])
         for row in report['per_class']]
      + ['confusion matrix (rows: true class, columns: predicted)',
         '%-12s ' % '' + ' '.join('%6s' % name[:6] for name in names)]
      + ['%-12s ' % name + ' '.join('%6d' % count for count in row)
         for name, row in zip(names, report['confusion_matrix'])])
