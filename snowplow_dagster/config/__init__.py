"""EmrEtlRunner configuration (``config.yml``, Iglu resolver, enrichments folder), loaded as it is.

A Snowplow user's ``config.yml`` must work unchanged, so the models mirror EmrEtlRunner 1.0.4's
``ConfigHash`` contract key for key, and everything is checked before anything moves: every problem
is reported at once, each naming its full key path and the file. Secrets never appear in an error,
a ``repr`` or a dump: credentials are ``SecretStr``, values under secret-looking property names are
wrapped too, and errors only echo values of keys that cannot hold one.

Differences from EmrEtlRunner (a superset: every file it accepts is accepted, bar the rules below):

- Keys we do not use (``storage.versions.*``, ``shredded.*``, ``jsonpath_assets``, ...) are
  optional; EmrEtlRunner required some of them even when unused.
- Credentials may be omitted (default AWS chain), ``iam``, ``env``, ``default`` or literal keys.
- Locations may be ``s3://`` (``s3a``/``s3n`` are read as ``s3``), ``file://`` or absolute paths.
- Unknown keys: EmrEtlRunner ignored them everywhere. We reject them where a typo would silently
  change what happens to data: the top level (a misspelt section vanishes), ``aws.s3.buckets``
  (a misspelt location is never read or written) and our own ``snowplow_dagster`` section. Elsewhere
  (``aws``, ``aws.emr``, ``collectors``, ``enrich``, ``storage``, ``monitoring``) they are ignored
  with a warning, because configs carry keys from other EmrEtlRunner versions
  (``storage.targets``, ``enrich.versions.hadoop_enrich``, ...).
- Extra rules: supported collector formats only, ``placement`` xor ``ec2_subnet_id``, counts >= 0,
  bids > 0, ``raw.in`` non-empty, no duplicate YAML keys, no relative paths, and data locations
  that neither overlap nor nest and share one storage backend (``locations.check_locations``).

Our extension section, all keys optional (defaults in ``SnowplowDagsterSettings``)::

    snowplow_dagster:
      engine: local                 # local (default: local Spark, no cloud account) | emr
      manifests: s3://.../manifests # batch manifests; default <aws.s3.buckets.log>manifests/
      quiet_period_seconds: 0       # an in-bucket object is claimed once this old; default 0
                                    #   on S3 (a PUT is atomic), 60 on local folders
      assets: s3://.../             # EMR: where the application is uploaded; default
                                    #   aws.s3.buckets.assets unless Snowplow's hosted bucket,
                                    #   else aws.s3.buckets.log (models.application_location)
      max_files_per_batch: 10000    # a backlog becomes several batches
      max_bytes_per_batch: 10GiB    # bytes, or a size such as 512MiB / 10GB
      bad_row_ratio_warning: 0.05   # bad rows / (good + bad) above this fails the asset check
      max_line_length: 4194304      # characters; a longer raw line is a bad row, never parsed
      validate_derived_contexts: false  # also validate ua_parser's derived context (a bad row
                                    #   when it fails its schema); ours, so trusted by default
      local_spark:
        master: local[*]
        driver_memory: 2g
        conf: {}                    # extra spark.* settings for the local engine
      emr:                          # the EMR engine (EmrResource settings override these)
        use_persistent_jobflow: false   # run on the WAITING cluster named jobflow.job_name
        create_persistent_jobflow: true # ...launching one that stays up when there is none
        poll_interval_seconds: 30
        timeout_seconds: 43200      # for all steps, bootstrap retries included

The package, by module: ``errors`` (``ConfigIssue``, ``ConfigError``, secret names), ``erb``
(rendering), ``yaml_loader`` (parsing), ``base`` (section base classes, validation context, field
types), ``locations`` (normalising, overlap checks), ``credentials``, ``models`` (``config.yml``
section by section), ``issues`` (pydantic errors as ``ConfigIssue``s, ignored keys), ``pipeline``
(``PipelineConfig`` and the loaders) and ``resolver`` (Iglu resolver, enrichments folder).
"""

from snowplow_dagster.config.base import reveal
from snowplow_dagster.config.credentials import AwsCredentials
from snowplow_dagster.config.erb import render_erb
from snowplow_dagster.config.errors import ConfigError, ConfigIssue
from snowplow_dagster.config.locations import normalise_location
from snowplow_dagster.config.models import EmrConfig, LocalSparkSettings
from snowplow_dagster.config.pipeline import (
    PipelineConfig,
    load_config,
    load_config_text,
    parse_config,
)
from snowplow_dagster.config.resolver import check_enrichments_dir, load_resolver

__all__ = [
    "AwsCredentials",
    "ConfigError",
    "ConfigIssue",
    "EmrConfig",
    "LocalSparkSettings",
    "PipelineConfig",
    "check_enrichments_dir",
    "load_config",
    "load_config_text",
    "load_resolver",
    "normalise_location",
    "parse_config",
    "render_erb",
    "reveal",
]
