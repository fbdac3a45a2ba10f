"""Stegvis: compiles support-and-treatment programs written in Markdown and YAML
into versioned program packages (see DESIGN.md for the pipeline)."""

__version__ = "0.1.0"

#: Version of the package layout (manifest.json and program.json). Bump when the
#: runtime would need to read a package differently.
PACKAGE_FORMAT = 1
