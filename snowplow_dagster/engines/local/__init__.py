"""The local engine: EmrEtlRunner's step list on this machine, a folder standing in for HDFS."""
