"""The configuration layer: the schema (:mod:`~raygen.config.schema`, Hydra structured
configs), the plug-in registries (:mod:`~raygen.config.plugins`), the closed
vocabularies (:mod:`~raygen.config.strenum`) and deepmd-kit's backends
(:mod:`~raygen.config.backend`). Imports nothing above it."""
