"""Execution engines: what runs a batch's step list (S3DistCp copies and the Spark enrichment).

``contract`` is the interface assets call (``ExecutionEngine.run_steps``), ``steps`` builds
EmrEtlRunner's step list, ``bundle`` ships the application to EMR. ``local/`` runs the same steps on
this machine (an S3DistCp equivalent and a local Spark); ``emr/`` runs them on Amazon EMR.
"""
