"""The command lines of train_graph.py and eval_graph.py and the flag reference."""
