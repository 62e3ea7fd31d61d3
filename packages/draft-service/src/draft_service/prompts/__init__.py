"""Versioned prompt templates shipped as package files (one folder per version)."""
