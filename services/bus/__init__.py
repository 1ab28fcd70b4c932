"""NATS JetStream plumbing shared by every process: the embedded server and the stream definitions."""
