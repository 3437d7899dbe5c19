"""The commands of ``xinfang``, one module per area, registered in ``cli.main``."""
