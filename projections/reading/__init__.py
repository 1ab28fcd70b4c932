"""The stream-reading path, written once for every read model: the durable consumer and its
settings, pulling batches, batched direct gets, decoding a batch (dead-lettering what cannot be
decoded), applying it to a store (in a worker process where there are cores), the live runner,
partitioned workers, rebuilds."""
