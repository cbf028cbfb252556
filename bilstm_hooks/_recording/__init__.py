"""Floor 7: the hooks, the `Recorder` and each call's `Record`."""
