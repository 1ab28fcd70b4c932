"""Alerts to whoever owns the next step: pure rules (`rules.py`) over the tracker and dataset
read models (`evaluate.py`), a record of what was sent (`sent.py`), the process that publishes
them on SEND_ALERTS (`runner.py`, `process.py`)."""
