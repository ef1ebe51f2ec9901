"""`python -m plugin_host.looper` runs the looper's command line."""

from plugin_host.looper.cli import main

raise SystemExit(main())
