package cgroups

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	mi "github.com/berth/berth/pkg/mountinfo"
)

// hierarchy is one mounted cgroup hierarchy: a v1 one (with its controllers
// or its name=X) or the v2 tree.
type hierarchy struct {
	// name is the hierarchy's key in /proc/self/cgroup ("cpu,cpuacct",
	// "name=systemd"), or "" for v2.
	name string
	// controllers are the v1 controllers bound to it; for v2, the ones
	// its root offers (cgroup.controllers), in v1 spelling ("blkio" for io).
	controllers []string
	// mountpoint is where it is mounted; root is the cgroup the mount shows
	// (the fourth field of mountinfo, "/" unless bind-mounted).
	mountpoint, root string
	// self is the cgroup of this process in it.
	self string
}

// layout is where every controller lives on this host.
type layout struct {
	mode CGMode
	v1   []*hierarchy
	v2   *hierarchy
	// owner maps a controller (v1 spelling) to the hierarchy that serves it.
	owner map[string]*hierarchy
}

// cgroupRoot is where hosts mount cgroup file systems.
const cgroupRoot = "/sys/fs/cgroup"

var hostLayout = sync.OnceValues(func() (*layout, error) {
	mi, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("reading mounts: %w", err)
	}
	defer mi.Close()
	pc, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("reading own cgroup: %w", err)
	}
	defer pc.Close()
	return parseLayout(mi, pc, func(p string) ([]byte, error) { return os.ReadFile(p) })
})

// Mode returns the cgroup layout of the host, detected once from the
// cgroup mounts under /sys/fs/cgroup.
func Mode() CGMode {
	l, err := hostLayout()
	if err != nil {
		return Unavailable
	}
	return l.mode
}

// v2Names maps v2 controller names to the v1 spelling used inside this
// package.
var v2Names = map[string]string{"io": "blkio"}

// parseLayout reads mountinfo and /proc/self/cgroup. readFile reads the v2
// root's cgroup.controllers.
func parseLayout(mountinfo, selfCgroup io.Reader, readFile func(string) ([]byte, error)) (*layout, error) {
	l := &layout{owner: map[string]*hierarchy{}}
	seen := map[string]bool{}
	sc := bufio.NewScanner(mountinfo)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		sep := -1
		for i, s := range f {
			if s == "-" {
				sep = i
				break
			}
		}
		if sep < 6 || len(f) < sep+4 {
			continue
		}
		fstype, mnt, root := f[sep+1], mi.Unescape(f[4]), mi.Unescape(f[3])
		if mnt != cgroupRoot && !strings.HasPrefix(mnt, cgroupRoot+"/") {
			continue
		}
		switch fstype {
		case "cgroup2":
			if l.v2 == nil {
				l.v2 = &hierarchy{mountpoint: mnt, root: root}
			}
		case "cgroup":
			var ctrls []string
			var named string
			for _, o := range strings.Split(f[sep+3], ",") {
				switch {
				case strings.HasPrefix(o, "name="):
					named = o
				case knownV1[o]:
					ctrls = append(ctrls, o)
				}
			}
			sort.Strings(ctrls)
			name := strings.Join(ctrls, ",")
			if named != "" {
				name = strings.Join(append(ctrls, named), ",")
				if len(ctrls) == 0 {
					name = named
				}
			}
			if name == "" || seen[name] {
				continue
			}
			seen[name] = true
			h := &hierarchy{name: name, controllers: ctrls, mountpoint: mnt, root: root}
			l.v1 = append(l.v1, h)
			for _, c := range ctrls {
				l.owner[c] = h
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading mounts: %w", err)
	}
	switch {
	case l.v2 != nil && l.v2.mountpoint == cgroupRoot:
		l.mode = Unified
		l.v1 = nil
		clear(l.owner)
	case l.v2 != nil && len(l.v1) > 0:
		l.mode = Hybrid
	case len(l.v1) > 0:
		l.mode = Legacy
	case l.v2 != nil:
		l.mode = Unified
	default:
		return nil, errNoCgroups
	}

	// This process's cgroup in each hierarchy.
	sc = bufio.NewScanner(selfCgroup)
	for sc.Scan() {
		id, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		names, p, ok := strings.Cut(rest, ":")
		if !ok {
			continue
		}
		if id == "0" && names == "" {
			if l.v2 != nil {
				l.v2.self = p
			}
			continue
		}
		parts := strings.Split(names, ",")
		var ctrls []string
		var named string
		for _, n := range parts {
			if strings.HasPrefix(n, "name=") {
				named = n
			} else {
				ctrls = append(ctrls, n)
			}
		}
		sort.Strings(ctrls)
		key := strings.Join(ctrls, ",")
		if named != "" {
			if key != "" {
				key += ","
			}
			key += named
		}
		for _, h := range l.v1 {
			if h.name == key {
				h.self = p
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading own cgroup: %w", err)
	}
	for _, h := range l.v1 {
		if h.self == "" {
			h.self = "/"
		}
	}

	if l.v2 != nil {
		if l.v2.self == "" {
			l.v2.self = "/"
		}
		b, err := readFile(filepath.Join(l.v2.mountpoint, "cgroup.controllers"))
		if err != nil {
			return nil, fmt.Errorf("reading v2 controllers: %w", err)
		}
		for _, c := range strings.Fields(string(b)) {
			if n, ok := v2Names[c]; ok {
				c = n
			}
			if _, inV1 := l.owner[c]; inV1 {
				continue
			}
			l.v2.controllers = append(l.v2.controllers, c)
			l.owner[c] = l.v2
		}
		// The v2 freezer (cgroup.freeze) and device filter (eBPF) are part
		// of the core, not listed in cgroup.controllers.
		for _, c := range []string{"freezer", "devices"} {
			if _, inV1 := l.owner[c]; !inV1 {
				l.owner[c] = l.v2
			}
		}
	}
	return l, nil
}

// knownV1 are the v1 controllers the kernel may mount.
var knownV1 = map[string]bool{
	"cpu": true, "cpuacct": true, "cpuset": true, "memory": true, "devices": true,
	"freezer": true, "pids": true, "blkio": true, "hugetlb": true, "net_cls": true,
	"net_prio": true, "perf_event": true, "rdma": true, "misc": true,
}

// dirFor returns the directory of cgroup p (validated; absolute or relative
// to this process's cgroup) in hierarchy h.
func (h *hierarchy) dirFor(p string) string {
	cg := p
	if !strings.HasPrefix(p, "/") {
		cg = filepath.Join(h.self, p)
	}
	if h.root != "/" && (cg == h.root || strings.HasPrefix(cg, h.root+"/")) {
		cg = strings.TrimPrefix(cg, h.root)
	}
	return filepath.Join(h.mountpoint, cg)
}
