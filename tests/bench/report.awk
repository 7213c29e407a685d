# report.awk — the benchmark table and JSON (tests/bench/run.sh, instr.sh).
#
# Input: tab-separated "suite job metric rounds value unit" lines, one per
# job and metric (value: the median over rounds). Variables: name (the
# report's name: a suite, or "all"), statistic, date, commit, rounds.
# Output: a table with, on each job whose name has a "-be" part, the ratio
# of its value to the job that differs only by "-le" (BE/LE; "!" when it is
# more than 5% off), then one line of JSON:
#   {"suite": name, "statistic": ..., "date": ..., "commit": ...,
#    "rounds_setting": ..., "results": [{"suite", "job", "metric", "rounds",
#    "value", "unit", "be_le"}...]}   (be_le: null when there is no pair)

BEGIN { FS = "\t" }

function le_of(job,   le) {
	le = job
	if (!sub(/-be(-|$)/, "-le&", le))
		return ""
	sub(/-le-be/, "-le", le)
	return le
}

function jstr(s) {
	gsub(/\\/, "\\\\", s)
	gsub(/"/, "\\\"", s)
	return "\"" s "\""
}

NF >= 6 {
	n++
	s[n] = $1; j[n] = $2; m[n] = $3; r[n] = $4; v[n] = $5; u[n] = $6
	idx[$1 SUBSEP $2 SUBSEP $3] = n
}

END {
	for (i = 1; i <= n; i++) {
		ratio[i] = ""
		le = le_of(j[i])
		if (le == "" || !((s[i] SUBSEP le SUBSEP m[i]) in idx))
			continue
		k = idx[s[i] SUBSEP le SUBSEP m[i]]
		if (v[k] + 0 != 0)
			ratio[i] = v[i] / v[k]
	}
	printf "%-6s %-24s %-26s %6s %12s %-10s %s\n", "suite", "job", "metric", "rounds", "median", "unit", "BE/LE"
	for (i = 1; i <= n; i++) {
		flag = ""
		if (ratio[i] != "" && (ratio[i] > 1.05 || ratio[i] < 0.95))
			flag = " !"
		printf "%-6s %-24s %-26s %6d %12.2f %-10s %s\n", s[i], j[i], m[i], r[i], v[i], u[i],
			(ratio[i] == "" ? "" : sprintf("%.3f%s", ratio[i], flag))
	}
	printf "{\"suite\": %s, \"statistic\": %s, \"date\": %s, \"commit\": %s, \"rounds_setting\": %s, \"results\": [",
		jstr(name), jstr(statistic), jstr(date), jstr(commit), jstr(rounds)
	for (i = 1; i <= n; i++)
		printf "%s{\"suite\": %s, \"job\": %s, \"metric\": %s, \"rounds\": %d, \"value\": %.3f, \"unit\": %s, \"be_le\": %s}",
			(i > 1 ? ", " : ""), jstr(s[i]), jstr(j[i]), jstr(m[i]), r[i], v[i], jstr(u[i]),
			(ratio[i] == "" ? "null" : sprintf("%.4f", ratio[i]))
	printf "]}\n"
}
