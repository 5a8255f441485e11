"""Training on a cluster: parameter servers, workers, local launches."""
