"""The dataset projector as its own process with small batches, for the fault tests.

`python projector_process.py NATS_URL DB_PATH BATCH_SIZE`: the same `run_projector` that
`sendx projector` runs, but with batches small enough that a kill lands mid-stream, and a
short ack wait so the batch a killed projector held comes back quickly.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

from projections.reading.runner import ConsumerSettings
from projections.serving.processes import run_projector

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    url, db, batch = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    settings = ConsumerSettings(
        batch_size=batch, fetch_timeout=0.2, retry_delay=0.2, ack_wait=2.0
    )
    print("projector starting", flush=True)
    asyncio.run(run_projector(url, db, settings))
