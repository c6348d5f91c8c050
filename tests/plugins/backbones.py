"""Test plugin: the tiny timm test backbones (random weights), registered for every process of a test session."""
