"""templates/ is installed as the package `stegvis_templates` (see setup.py), so an installed
Stegvis finds its templates with importlib.resources; in a checkout they are read from here."""
