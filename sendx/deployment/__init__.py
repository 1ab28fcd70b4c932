"""Deployment rendering from the topology: the production processes, NATS configs and cluster
nodes, Docker Compose, Kubernetes."""
