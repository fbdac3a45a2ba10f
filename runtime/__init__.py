"""Stegvis runtime: delivers verified program packages to patients and therapists.

A FastAPI application (server-rendered Jinja2 pages in Swedish, a JSON API with an
OpenAPI schema) over SQLAlchemy with Alembic migrations. Input: a folder of program
packages built by `stegvis build`, and a database. It must never change a package,
never serve a file whose hash does not match its manifest, and never write a
personnummer to an application log. See DESIGN.md, "Runtime (thin, but real)".
"""
