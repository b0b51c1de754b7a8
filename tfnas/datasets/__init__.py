"""Datasets of the search and train commands: the embedded demo data, tfds, image folders."""
