"""Static files storage: WhiteNoise's compressed manifest storage, with ES module imports rewritten.

The live-update client is a set of ES modules (static/js/live/) loaded without a bundler. With
hashed file names a long-cached main.<hash>.js must import the hashed copies of its modules, or
it could run against stale ones; Django rewrites `import … from "./x.js"` to the hashed name
(and the importer's hash then changes with what it imports) once this flag is on.
"""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class CompressedManifestModuleStorage(CompressedManifestStaticFilesStorage):
    support_js_module_import_aggregation = True
