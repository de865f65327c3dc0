"""Loading LAION parquet metadata into a LAION Lens database, one file per step.

``pipeline.ingest_paths`` runs the steps in this order:

- ``sources``: parquet files, folders of them and http(s) URLs become local files.
- ``read``: footer checks, then record batches.
- ``columns``: which parquet column feeds which images column.
- ``normalise`` and ``domains``: values and domains, a column at a time.
- ``write``: one transaction per batch.
- ``index``: secondary indexes and domain counts after the rows.
- ``report``: what the ingest did.

The ``remove*``, ``removal_*``, ``check`` and ``embed_*`` modules belong to the other
commands.
"""
