"""Agent Journal's command line: a thin click layer over `journal` and `projections`."""
