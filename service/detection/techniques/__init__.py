"""Technique families: permutation generators and edit classifiers, one module per family."""
