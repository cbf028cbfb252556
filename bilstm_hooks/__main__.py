"""`python -m bilstm_hooks`: the `bilstm-hooks` command."""

from ._cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
