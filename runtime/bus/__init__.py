"""NATS JetStream plumbing shared by every process: servers, streams, users and connections."""
