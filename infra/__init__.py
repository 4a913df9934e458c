"""Local infrastructure without Docker: Apache Kafka (KRaft) and FerretDB on loopback."""
