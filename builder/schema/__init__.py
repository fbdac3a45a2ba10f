"""Pydantic models of the authoring format (the contract in docs/authoring.md).

Structure only: types, allowed values and unknown keys. Rules that span fields or
files (a scale's min below its max, a form that a step names) live in
`builder.validate` and `builder.check`, where every finding gets its own code.
"""
