"""findmatches: self-hosted, wire-compatible AWS Glue FindMatches."""

__version__ = "0.1.0"
