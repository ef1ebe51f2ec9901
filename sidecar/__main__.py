"""`python -m sidecar` runs the command line."""

from sidecar.cli.main import main

raise SystemExit(main())
