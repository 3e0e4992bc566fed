"""The end-to-end demo: the whole engine on embedded defaults with simulators."""
