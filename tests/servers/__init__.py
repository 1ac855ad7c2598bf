"""Fixtures that start real servers (HDFS, S3) and give backends on them."""
