# tests/kut/host-lib.sh — runs kvm-unit-tests' own run_tests.sh inside the
# emulated arm64 KVM host (busybox sh; sourced by the job scripts that
# tests/kut/run.sh generates, after tests/arm/job-lib.sh).
#
# Packed layout (tests/kut/run.sh):
#   /data/kut/bin/bash, /data/kut/bin/timeout   bash-static and the timeout shim
#   /data/kut/vmm/<vmm>/lkvm                    each VMM under the name the runner
#                                               looks for (lkvm: /bin/lkvm)
#   /data/kut/trees/<label>/                    a KUT tree (scripts, config, .flat)
#
# Every line printed for the x86 side starts "KUT <job> <uptime> ":
#   KUT <job> <t> START vmm=<vmm> tree=<label>
#   KUT <job> <t> VMM <path> help-banner=<yes|no> <first line of --help>
#   KUT <job> <t> OUT <a line of run_tests.sh's output>
#   KUT <job> <t> DONE rc=<run_tests.sh's status>
# then the runner's logs directory as <job>-logs.tgz (host_file).
KUT=/data/kut

_kut_up() { cut -d' ' -f1 /proc/uptime; }

# the bits of a normal system that bash and the runner use
_kut_env() {
	[ -e /bin/bash ] || ln -s "$KUT/bin/bash" /bin/bash
	[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
	[ -e /dev/stdin ] || ln -s /proc/self/fd/0 /dev/stdin
	[ -e /dev/stdout ] || ln -s /proc/self/fd/1 /dev/stdout
	[ -e /dev/stderr ] || ln -s /proc/self/fd/2 /dev/stderr
	if [ ! -e "$KUT/vmm/lkvm/lkvm" ]; then
		mkdir -p "$KUT/vmm/lkvm"
		ln -s /bin/lkvm "$KUT/vmm/lkvm/lkvm"
	fi
}

# kut_run JOB VMM LABEL: run_tests.sh of tree LABEL with VMM first in PATH
kut_run() {
	_job=$1 _vmm=$2 _tree=$KUT/trees/$3
	_kut_env
	echo "KUT $_job $(_kut_up) START vmm=$_vmm tree=$3"
	PATH=$KUT/vmm/$_vmm:$KUT/bin:$PATH
	export PATH
	if lkvm --help 2>&1 | grep -q 'The most commonly used'; then _b=yes; else _b=no; fi
	echo "KUT $_job $(_kut_up) VMM $(command -v lkvm) help-banner=$_b $(lkvm --help 2>&1 | head -n1)"
	cd "$_tree" || { echo "KUT $_job $(_kut_up) DONE rc=2 (no tree $_tree)"; return 1; }
	rm -rf "logs-$_job"
	# the runner's default MAX_SMP comes from getconf, which busybox lacks
	set -o pipefail
	env MAX_SMP="${KUT_MAX_SMP:-$(nproc)}" TIMEOUT="$KUT_TIMEOUT" unittest_log_dir="logs-$_job" \
		./run_tests.sh $KUT_ARGS 2>&1 </dev/null |
		while IFS= read -r _l; do echo "KUT $_job $(_kut_up) OUT $_l"; done
	_rc=$?
	set +o pipefail
	echo "KUT $_job $(_kut_up) DONE rc=$_rc"
	if [ -d "logs-$_job" ]; then
		tar -czf "/tmp/$_job-logs.tgz" "logs-$_job" && host_file "$_job-logs.tgz" "/tmp/$_job-logs.tgz"
		rm -f "/tmp/$_job-logs.tgz"
	fi
	cd /
	return 0
}
