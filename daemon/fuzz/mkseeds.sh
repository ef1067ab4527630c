#!/bin/sh
# Writes the seed corpus: one file per "=== NAME OPTS" block of seeds.txt,
# the option byte OPTS (see fuzz_bpfd.c) followed by the block's lines.
set -eu
src=$1
out=$2
mkdir -p "$out"
name=
while IFS= read -r line || [ -n "$line" ]; do
	case $line in
	'#'*) ;;
	'=== '*)
		set -- $line
		name=$2
		printf "\\$(printf %03o "$3")" > "$out/$name"
		;;
	*)
		[ -n "$name" ] && printf '%s\n' "$line" >> "$out/$name"
		;;
	esac
done < "$src"
