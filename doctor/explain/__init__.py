"""`explain`: read a log of any size and shape, recognise known messages, rank them root cause first.

reader     streaming input: files, stdin, .gz, UTF-16; blocks of whole lines; line cleaning (ANSI, prefixes)
signatures compile rules/signatures.toml into regexes plus a literal prefilter (a few substring keys)
matcher    the scan: keys over raw blocks, regexes on candidate lines only, bounded state
rank       aggregate hits into findings (de-duplicated, root cause first) and build the Report
"""
