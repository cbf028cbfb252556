"""Floor 9: the `bilstm-hooks` command line and its demo."""
