"""Stegvis: compiles support-and-treatment programs written in Markdown and YAML
into versioned program packages (see DESIGN.md for the pipeline)."""

__version__ = "0.1.0"
