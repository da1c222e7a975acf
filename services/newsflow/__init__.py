"""newsflow: fetch news, clean it, dedupe it, tag it — on Kafka."""

__version__ = "0.1.0"
# Stamped on every output record so consumers can tell which logic produced a decision.
PIPELINE_VERSION = f"newsflow-{__version__}"
