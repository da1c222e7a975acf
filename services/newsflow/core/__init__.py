"""The pure core: cleaning, tagging and dedupe. No I/O, no Kafka, no clocks read implicitly."""
