"""Session export: the pipeline, and one module per format registered in `formats.FORMATS`."""
