"""The run store: records on disk (`records`), the SQLite index (`index`), saving and reloading models (`store`)."""
