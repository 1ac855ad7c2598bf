"""The spine: the catalog database and the hash-chained event log every other part leans on."""
