"""Configuration: gridshift.yaml and job specs parsed into typed domain records."""
