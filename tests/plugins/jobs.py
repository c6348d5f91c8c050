"""Test plugin: the fault-injecting job kinds (selftest), registered for every process of a test session."""
