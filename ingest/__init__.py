"""Loading LAION parquet metadata into a LAION Lens database, one file per step.

The ingest reads in this order: ``sources`` (files, folders, URLs), ``read`` (footer
checks, record batches), ``columns`` (which parquet column feeds which images
column), ``normalise`` and ``domains`` (values and domains, column at a time),
``write`` (one transaction per batch), ``index`` (indexes and counts afterwards) and
``report``; ``pipeline.ingest_paths`` runs them. The ``remove*``, ``removal_*``,
``check`` and ``embed_*`` modules are the other commands' steps.
"""
