"""`python -m tfnas.compare`: ProxylessNAS against keras-tuner at equal compute."""
