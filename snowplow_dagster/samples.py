"""Where the bundled samples live: the demo's config, Iglu resolver, enrichments folder and the
MaxMind test databases. The code location falls back on them, so it loads with no environment."""

from importlib import resources
from pathlib import Path

SAMPLE_DATA = Path(str(resources.files("snowplow_dagster") / "sample_data"))
SAMPLE_CONFIGS = SAMPLE_DATA / "config"
SAMPLE_CONFIG = SAMPLE_CONFIGS / "config.yml"
SAMPLE_RESOLVER = SAMPLE_CONFIGS / "iglu_resolver.json"
SAMPLE_ENRICHMENTS = SAMPLE_DATA / "enrichments"
SAMPLE_MAXMIND = SAMPLE_DATA / "maxmind"
