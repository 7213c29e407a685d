# job-lib.sh — helpers put at the top of every job script in the emulated host
# (by mk-host-initrd.sh, before the jobs file's own prelude).  busybox sh.
# The x86 side (tests/arm/run.sh) parses the lines these print.

# run CMD...: prints "+ CMD", runs CMD with stdin /dev/null, then prints its
# exit status as "LKVM-RC <n>" (checked by @expect-rc).
run() { echo "+ $*"; "$@" </dev/null; echo "LKVM-RC $?"; }

# host_file NAME [PATH]: sends PATH (default NAME) back to the x86 side as
#   HOST-FILE-BEGIN NAME / base64 lines / HOST-FILE-END NAME md5=<md5>
# (or "HOST-FILE-MISSING NAME" when PATH is no regular file); run.sh decodes it
# to build/arm-tier/<job>/files/NAME and checks the md5, so a console line
# garbled by a host kernel message cannot pass unnoticed.
host_file() {
	_hf_path=${2:-$1}
	if [ ! -f "$_hf_path" ]; then
		echo "HOST-FILE-MISSING $1"
		return 1
	fi
	echo "HOST-FILE-BEGIN $1"
	base64 < "$_hf_path"
	echo "HOST-FILE-END $1 md5=$(md5sum < "$_hf_path" | cut -d' ' -f1)"
}
