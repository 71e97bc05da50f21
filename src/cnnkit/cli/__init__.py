"""The `cnnkit` command line (a thin edge over cnnkit.pipeline, cnnkit.report and cnnkit.export)."""
