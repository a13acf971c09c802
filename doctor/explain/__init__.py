"""`explain`: read a log of any size and shape, recognise what failed, rank it root cause first.

reader     streaming input: files, stdin, .gz, UTF-16; blocks of whole lines; line cleaning (ANSI, rank and
           container prefixes)
vocab      rules/vocab/*.toml: upstream error vocabularies (enumerations, message families, tables), validated
catalogue  signatures + vocabularies compiled into rules, each anchored by a literal it cannot match without
engine     one pass over raw bytes for every anchor at once (Hyperscan; a pure-Python fallback)
structure  Python tracebacks (chains, the package of each frame), exception owners
matcher    the scan: anchors -> candidate lines -> rules; bounded state
graph      the cause graph: one finding per root cause, its consequences under it; unknown-failure when
           nothing known explains an error
join       a snapshot's or the live machine's facts joined with the findings
run        entry points (paths or text in, a Report out)
"""
