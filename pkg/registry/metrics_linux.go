package registry

import (
	"bufio"
	"bytes"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// writeProcessMetrics writes the process's CPU time, memory, open files and
// start time under client_golang's names, read from /proc/self.
func writeProcessMetrics(w *bufio.Writer) {
	gauge := func(name, help, typ string, v float64) {
		writeHeader(w, name, help, typ)
		writeSample(w, name, nil, nil, "", "", v)
	}
	st, ok := readSelfStat()
	if ok {
		gauge("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", "counter", st.cpuSeconds)
	}
	var lim unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &lim) == nil {
		gauge("process_max_fds", "Maximum number of open file descriptors.", "gauge", float64(lim.Cur))
	}
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		gauge("process_open_fds", "Number of open file descriptors.", "gauge", float64(len(fds)))
	}
	if ok {
		gauge("process_resident_memory_bytes", "Resident memory size in bytes.", "gauge", st.rss)
		gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", "gauge", st.start)
		gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", "gauge", st.vsize)
	}
}

type selfStat struct{ cpuSeconds, rss, vsize, start float64 }

// clockTicks is USER_HZ, 100 on every Linux architecture Go supports.
const clockTicks = 100

// readSelfStat parses /proc/self/stat (proc(5)); fields after the command
// name, which is in parentheses and may hold spaces, are counted from it.
func readSelfStat() (selfStat, bool) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return selfStat{}, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return selfStat{}, false
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state): utime 14, stime 15, starttime 22, vsize 23, rss 24.
	if len(f) < 22 {
		return selfStat{}, false
	}
	num := func(field int) float64 {
		v, _ := strconv.ParseUint(string(f[field-3]), 10, 64)
		return float64(v)
	}
	st := selfStat{
		cpuSeconds: (num(14) + num(15)) / clockTicks,
		vsize:      num(23),
		rss:        num(24) * float64(os.Getpagesize()),
	}
	if boot, ok := bootTime(); ok {
		st.start = boot + num(22)/clockTicks
	}
	return st, true
}

// bootTime is the system's boot time in seconds since the epoch (btime in
// /proc/stat).
func bootTime() (float64, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("btime ")); ok {
			t, err := strconv.ParseUint(string(bytes.TrimSpace(v)), 10, 64)
			return float64(t), err == nil
		}
	}
	return 0, false
}
