# Execs a command line whose arguments hold spaces, quotes, a backslash and
# empty strings; quoted-argv.json lists the argv the tracer must print.
exec /bin/echo 'two words' 'say "hi"' "it's" '' 'back\slash' '  lead' '' >/dev/null
