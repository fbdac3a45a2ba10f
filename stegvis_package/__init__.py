"""The program package contract: one owner for the format that the compiler writes and
every reader (the runtime, `stegvis diff`, overlays on built bases) reads.

A package is a folder `<program-id>/<version>/` or a zip of it, holding `manifest.json`
(identity, source hash, and the sha256, size and audience of every file), `program.json`
(the structured program the runtime needs), step fragments, pages, audio, PDFs, media
and the program's sources. This package owns:

- `model`: pydantic models of manifest.json, program.json and the step fragments,
  versioned by `PACKAGE_FORMAT` and published as JSON Schema (`stegvis schema`);
- `reader`: one reader for a package folder or zip;
- `verify`: one verification (safe paths, sizes, hashes, unlisted files, the Ed25519
  signature), whose refusals name their kind and say why in Swedish;
- `versions`: semantic versions, through the `semver` library;
- `paths`: where things live in a package, and which paths are safe.

It is the bottom layer shared by `builder` and `runtime`: it imports the authoring
schema models (`builder.schema`, which import only pydantic) and nothing else of either.
Must not: write packages (the builder's package stage does), or know about enrolments.
"""

#: Version of the package layout (manifest.json, program.json, fragments). Bump when a
#: reader would need to read a package differently; readers refuse formats they do not know.
#: 2: every file has an audience; step bodies ship as fragments under `fragments/`.
PACKAGE_FORMAT = 2
