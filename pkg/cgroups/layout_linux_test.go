package cgroups

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// This machine's layout: v1 controllers beside a v2 tree holding hugetlb.
const hybridMountinfo = `30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
32 30 0:29 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
33 30 0:30 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
35 30 0:32 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
36 30 0:33 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
37 30 0:34 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
38 30 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`

const hybridSelf = `9:name=systemd:/
8:pids:/
7:blkio:/
6:freezer:/
5:devices:/
4:memory:/process_api/81651d
3:cpuset:/
2:cpuacct:/
1:cpu:/
0::/
`

// A common legacy layout: cpu and cpuacct co-mounted, net_cls,net_prio too,
// shown through a bind mount of a sub-tree (as inside a container).
const legacyMountinfo = `25 20 0:22 / /sys/fs/cgroup ro - tmpfs tmpfs ro,mode=755
26 25 0:23 /docker/abc /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpuacct,cpu
27 25 0:24 /docker/abc /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
28 25 0:25 / /sys/fs/cgroup/net_cls,net_prio rw - cgroup cgroup rw,net_cls,net_prio
29 25 0:26 / /sys/fs/cgroup/with\040space rw - cgroup cgroup rw,pids
`

const legacySelf = `4:pids:/
3:net_cls,net_prio:/
2:memory:/docker/abc
1:cpu,cpuacct:/docker/abc
`

const unifiedMountinfo = `24 19 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`

func fakeRead(content string) func(string) ([]byte, error) {
	return func(p string) ([]byte, error) {
		if !strings.HasSuffix(p, "/cgroup.controllers") {
			return nil, os.ErrNotExist
		}
		return []byte(content), nil
	}
}

func TestParseLayout(t *testing.T) {
	for _, tc := range []struct {
		name, mountinfo, self, controllers string
		mode                               CGMode
		owners                             map[string]string // controller -> mountpoint
		dirs                               map[string]string // cgroupsPath -> dir of memory
	}{
		{
			name: "hybrid", mountinfo: hybridMountinfo, self: hybridSelf, controllers: "hugetlb\n", mode: Hybrid,
			owners: map[string]string{
				"memory": "/sys/fs/cgroup/memory", "cpuacct": "/sys/fs/cgroup/cpuacct",
				"hugetlb": "/sys/fs/cgroup/unified", "freezer": "/sys/fs/cgroup/freezer",
				"devices": "/sys/fs/cgroup/devices", "io": "",
			},
			dirs: map[string]string{"/berth/x": "/sys/fs/cgroup/memory/berth/x", "a/b": "/sys/fs/cgroup/memory/process_api/81651d/a/b"},
		},
		{
			name: "legacy", mountinfo: legacyMountinfo, self: legacySelf, mode: Legacy,
			owners: map[string]string{
				"cpu": "/sys/fs/cgroup/cpu,cpuacct", "cpuacct": "/sys/fs/cgroup/cpu,cpuacct",
				"net_prio": "/sys/fs/cgroup/net_cls,net_prio", "pids": "/sys/fs/cgroup/with space",
				"hugetlb": "", "freezer": "",
			},
			// Absolute paths are from the root the mount shows; relative
			// ones from the process's cgroup, which is that root here.
			dirs: map[string]string{"/docker/abc/x": "/sys/fs/cgroup/memory/x", "y": "/sys/fs/cgroup/memory/y", "/other": "/sys/fs/cgroup/memory/other"},
		},
		{
			name: "unified", mountinfo: unifiedMountinfo, self: "0::/user.slice/me\n", controllers: "cpuset cpu io memory hugetlb pids rdma misc\n", mode: Unified,
			owners: map[string]string{
				"memory": "/sys/fs/cgroup", "blkio": "/sys/fs/cgroup", "freezer": "/sys/fs/cgroup",
				"devices": "/sys/fs/cgroup", "cpuacct": "",
			},
			dirs: map[string]string{"/berth/x": "/sys/fs/cgroup/berth/x", "x": "/sys/fs/cgroup/user.slice/me/x"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := parseLayout(strings.NewReader(tc.mountinfo), strings.NewReader(tc.self), fakeRead(tc.controllers))
			if err != nil {
				t.Fatal(err)
			}
			if l.mode != tc.mode {
				t.Errorf("mode = %s, want %s", l.mode, tc.mode)
			}
			for c, want := range tc.owners {
				got := ""
				if h := l.owner[c]; h != nil {
					got = h.mountpoint
				}
				if got != want {
					t.Errorf("owner[%s] = %q, want %q", c, got, want)
				}
			}
			for p, want := range tc.dirs {
				m := newManager(l, p)
				if got := m.Path("memory"); got != want {
					t.Errorf("Path(memory) of %q = %q, want %q", p, got, want)
				}
			}
		})
	}
}

func TestParseLayoutNoCgroups(t *testing.T) {
	_, err := parseLayout(strings.NewReader("1 0 0:1 / / rw - ext4 /dev/vda rw\n"), strings.NewReader(""), fakeRead(""))
	if !errors.Is(err, errNoCgroups) {
		t.Fatalf("err = %v", err)
	}
}

func TestLoadRejectsForeignPaths(t *testing.T) {
	l, err := parseLayout(strings.NewReader(hybridMountinfo), strings.NewReader(hybridSelf), fakeRead("hugetlb"))
	if err != nil {
		t.Fatal(err)
	}
	m := newManager(l, "/berth/x")
	back, err := loadManager(l, m.Paths())
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range m.Paths() {
		if back.Paths()[k] != v {
			t.Errorf("%s: loaded %q, want %q", k, back.Paths()[k], v)
		}
	}
	for _, bad := range []map[string]string{
		{"memory": "/etc"},
		{"memory": "/sys/fs/cgroup/memory/../../../etc"},
		{"memory": "/sys/fs/cgroup/memory"},
		{"nosuch": "/sys/fs/cgroup/memory/x"},
	} {
		if _, err := loadManager(l, bad); err == nil {
			t.Errorf("loadManager(%v) succeeded", bad)
		}
	}
}
