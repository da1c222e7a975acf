"""The fetcher: pulls documents from sources and publishes raw articles to Kafka."""
