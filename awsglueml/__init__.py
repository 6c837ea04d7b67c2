"""AWS Glue's ``awsglueml`` package, served by findmatches: ``from awsglueml.transforms import FindMatches``.

Glue ETL scripts that call `awsglueml.transforms.FindMatches` or `~awsglueml.transforms.FindIncrementalMatches`
run unchanged against a findmatches server (see docs/awsglueml.md). Needs ``pip install 'findmatches[spark]'``.
"""
