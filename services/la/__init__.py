"""The local authority service: EHC needs assessments and plans, transition, commissioned AP."""
