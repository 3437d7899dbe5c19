"""Segmentation, features and the three-headed letter classifier."""
