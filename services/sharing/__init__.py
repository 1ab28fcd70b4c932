"""Sharing what a service stored on the bus: the relay, its checkpoint, the translation of stored
events into contract events."""
