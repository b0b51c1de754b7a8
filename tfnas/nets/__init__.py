"""Networks as data.

Specs, ops, search spaces, reference networks, their JSON and net.config
forms, sampled paths, costs, and the Keras models built from them.
"""
