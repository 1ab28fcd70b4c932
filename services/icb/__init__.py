"""The ICB and NHS trust service: health pathways, diagnoses, EHC advice, the health record's
EHC plan marker, annual health checks, the dynamic support register and transfer to adult care."""
