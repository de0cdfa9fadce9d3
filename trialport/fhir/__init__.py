"""FHIR: the canonical model as ResearchStudy (R5 and R4B), and back."""
