"""Entity code generator behind ``api-core generate-entity``."""

from api_core.codegen.generator import EntitySpec, FieldSpec, GenerationError, generate

__all__ = ["EntitySpec", "FieldSpec", "GenerationError", "generate"]
