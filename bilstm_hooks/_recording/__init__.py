"""Floor 6: the hooks, the `Recorder` and each call's `Record`."""
