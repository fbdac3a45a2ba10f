"""Which packages and files the wheel holds; everything else is in pyproject.toml.

Only here because setuptools' `[tool.setuptools.packages.find]` finds packages by their
folder name and cannot also ship templates/ under another name (setuptools#4248).
`pip install .`, `pip wheel .` and `python -m build` read it; never run it directly.
"""

from setuptools import find_namespace_packages, find_packages, setup

#: templates/ and its folders (runtime/, print/, blocks/, …) under their installed name.
TEMPLATES = ["stegvis_templates"] + [
    f"stegvis_templates.{folder}" for folder in find_namespace_packages(where="templates", exclude=["*__pycache__*"])
]

setup(
    # Every package and subpackage of the code, including ones added later (stegvis_package/).
    packages=find_packages(include=["builder*", "runtime*", "stegvis_package*"]) + TEMPLATES,
    # The repository's templates/ (DESIGN.md's layout) is the package stegvis_templates once installed;
    # builder.defaults.TEMPLATES finds it there when Stegvis does not run from a checkout.
    package_dir={"stegvis_templates": "templates"},
    package_data={
        "stegvis_templates": ["**/*"],  # pages, print, blocks, the runtime's pages, CSS and JavaScript
        "runtime.migrations": ["*.mako"],  # Alembic's template for new revisions
    },
    exclude_package_data={"stegvis_templates": ["**/__pycache__/*"]},
)
