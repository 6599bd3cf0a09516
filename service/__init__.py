"""PhantomWatch: lookalike and phantom-domain detection for brand protection."""

__version__ = "0.1.0"
