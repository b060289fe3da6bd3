package engine

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// cgroupRoot is where cgroup hierarchies are mounted.
const cgroupRoot = "/sys/fs/cgroup"

// cgroupDir returns the container's directory in a v1 controller hierarchy,
// or its v2 directory when the host is unified.
func cgroupDir(controller, id string) string {
	if isUnified() {
		return filepath.Join(cgroupRoot, "berth", id)
	}
	return filepath.Join(cgroupRoot, controller, "berth", id)
}

func isUnified() bool {
	_, err := os.Stat(filepath.Join(cgroupRoot, "cgroup.controllers"))
	return err == nil
}

// OOMKills returns how many times the kernel's OOM killer struck inside the
// container's memory cgroup (0 when unknown).
func OOMKills(id string) int {
	file, key := "memory.oom_control", "oom_kill"
	if isUnified() {
		file, key = "memory.events", "oom_kill"
	}
	return int(readKey(filepath.Join(cgroupDir("memory", id), file), key))
}

// readKey reads "key value" lines and returns value for key.
func readKey(path, key string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if ok && k == key {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

func readInt(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n
}

// CgroupPids lists the processes in the container's cgroup.
func CgroupPids(id string) []int {
	b, err := os.ReadFile(filepath.Join(cgroupDir("pids", id), "cgroup.procs"))
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// Stats is a snapshot of a container's resource use.
type Stats struct {
	CPUUsageNs  int64
	MemoryUsage int64
	MemoryLimit int64
	Pids        int64
}

// CgroupStats reads the container's cgroup counters.
func CgroupStats(id string) Stats {
	if isUnified() {
		d := cgroupDir("", id)
		return Stats{CPUUsageNs: readKey(filepath.Join(d, "cpu.stat"), "usage_usec") * 1000,
			MemoryUsage: readInt(filepath.Join(d, "memory.current")), MemoryLimit: readInt(filepath.Join(d, "memory.max")),
			Pids: readInt(filepath.Join(d, "pids.current"))}
	}
	return Stats{
		CPUUsageNs:  readInt(filepath.Join(cgroupDir("cpuacct", id), "cpuacct.usage")),
		MemoryUsage: readInt(filepath.Join(cgroupDir("memory", id), "memory.usage_in_bytes")),
		MemoryLimit: readInt(filepath.Join(cgroupDir("memory", id), "memory.limit_in_bytes")),
		Pids:        readInt(filepath.Join(cgroupDir("pids", id), "pids.current")),
	}
}

// removeCgroups removes the container's (empty) cgroup directories, which
// the runtime leaves behind when its own state was lost (a reboot of the
// run directory, a crash between create and delete).
func removeCgroups(id string) {
	if isUnified() {
		os.Remove(filepath.Join(cgroupRoot, "berth", id))
		return
	}
	dirs, _ := filepath.Glob(filepath.Join(cgroupRoot, "*", "berth", id))
	for _, d := range dirs {
		os.Remove(d) // rmdir: fails, harmlessly, unless the cgroup is empty
	}
}
