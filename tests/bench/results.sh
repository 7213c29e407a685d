#!/bin/bash
# tests/bench/results.sh [-l LABEL] [JSON...] — the benchmark results as
# markdown, for bench/RESULTS.md.
#
# Renders the JSON of tests/bench/run.sh and instr.sh (default: every
# build/bench/*.json but all.json, instr.json last) to stdout: a heading
# (LABEL, default "Results"), the machine (CPU model from /proc/cpuinfo,
# cores, kernel, OS), the date of rendering and the git commit, then per
# suite the date, commit and rounds of its run and a table: each pair of
# jobs that differ only in "-be"/"-le" on one row with BE, LE and BE/LE
# ("!" when BE is more than 5% off LE), then the jobs without a pair.
#
#   tests/bench/results.sh -l "main, before issue 8" > /tmp/before.md
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
label=Results
if [ "${1:-}" = -l ]; then
	[ $# -ge 2 ] || { echo "usage: $0 [-l LABEL] [JSON...]" >&2; exit 2; }
	label=$2
	shift 2
fi
if [ $# -gt 0 ]; then
	files=("$@")
else
	files=()
	for f in "$top"/build/bench/*.json; do
		case ${f##*/} in all.json | instr.json) continue ;; esac
		[ -f "$f" ] && files+=("$f")
	done
	[ -f "$top/build/bench/instr.json" ] && files+=("$top/build/bench/instr.json")
fi
[ ${#files[@]} -gt 0 ] || { echo "results: no JSON (run tests/bench/run.sh or instr.sh first)" >&2; exit 1; }

cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -n 1)
os=$(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-}")
echo "## $label"
echo
echo "- machine: ${cpu:-unknown CPU}, $(nproc) cores, kernel $(uname -r)${os:+, $os}"
echo "- rendered: $(date -u +%Y-%m-%d) from the JSON of the runs below; commit $(git -C "$top" describe --always --dirty 2>/dev/null || echo unknown)"
echo "- suites other than instr ran in the emulated arm64 KVM host (QEMU TCG):"
echo "  compare the numbers with each other, not with hardware"

for f in "${files[@]}"; do
	[ -s "$f" ] || { echo "results: $f is empty" >&2; continue; }
	awk '
		function get(obj, key,   v) {
			if (!match(obj, "\"" key "\": (\"[^\"]*\"|[^,}]*)"))
				return ""
			v = substr(obj, RSTART + length(key) + 4, RLENGTH - length(key) - 4)
			gsub(/^"|"$/, "", v)
			return v
		}
		function num(v) {
			v += 0
			return v >= 100 ? sprintf("%.1f", v) : sprintf("%.3g", v)
		}
		function le_of(job,   le) {
			le = job
			if (!sub(/-be(-|$)/, "-le&", le))
				return ""
			sub(/-le-be/, "-le", le)
			return le
		}
		{
			head = $0
			sub(/"results": \[.*/, "", head)
			suite = get(head, "suite")
			rest = $0
			sub(/.*"results": \[/, "", rest)
			n = 0
			while (match(rest, /\{[^{}]*\}/)) {
				o = substr(rest, RSTART, RLENGTH)
				rest = substr(rest, RSTART + RLENGTH)
				n++
				job[n] = get(o, "job"); met[n] = get(o, "metric"); val[n] = get(o, "value")
				unit[n] = get(o, "unit"); rnd[n] = get(o, "rounds")
				at[job[n] SUBSEP met[n]] = n
			}
			printf "\n### %s\n\n", suite
			maxr = 0
			for (i = 1; i <= n; i++)
				if (rnd[i] + 0 > maxr)
					maxr = rnd[i] + 0
			if (suite == "instr")
				printf "Instructions per request, %s, under callgrind; run %s, commit %s.\n\n",
					get(head, "statistic"), get(head, "date"), get(head, "commit")
			else
				printf "%s over up to %d round(s) per job (BENCH_ROUNDS: %s); run %s, commit %s.\n\n",
					get(head, "statistic"), maxr, get(head, "rounds_setting"), get(head, "date"), get(head, "commit")
			paired = 0
			for (i = 1; i <= n; i++) {
				le = le_of(job[i])
				if (le == "" || !((le SUBSEP met[i]) in at))
					continue
				k = at[le SUBSEP met[i]]
				used[i] = used[k] = 1
				if (!paired++)
					print "| job | metric | unit | BE | LE | BE/LE |\n|---|---|---|---:|---:|---:|"
				name = job[i]
				sub(/-be(-|$)/, "-{be,le}&", name)
				sub(/-\{be,le\}-be/, "-{be,le}", name)
				r = val[k] + 0 ? val[i] / val[k] : 0
				printf "| %s | %s | %s | %s | %s | %s%s |\n", name, met[i], unit[i], num(val[i]), num(val[k]),
					(val[k] + 0 ? sprintf("%.3f", r) : "-"), (val[k] + 0 && (r > 1.05 || r < 0.95) ? " !" : "")
			}
			other = 0
			for (i = 1; i <= n; i++) {
				if (used[i])
					continue
				if (!other++)
					print (paired ? "\n" : "") "| job | metric | unit | value |\n|---|---|---|---:|"
				printf "| %s | %s | %s | %s |\n", job[i], met[i], unit[i], num(val[i])
			}
		}' "$f"
done
