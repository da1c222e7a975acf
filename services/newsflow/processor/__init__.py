"""The processor: a Faust app wrapping the pure core (prepare → dedupe) around Kafka topics."""
