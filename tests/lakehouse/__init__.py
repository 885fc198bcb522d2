"""Tests of the lakehouse layer: the table catalogue, its generated doc, the shared paths."""
