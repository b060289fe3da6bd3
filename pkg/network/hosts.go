package network

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

func blockMarkers(network string) (begin, end string) {
	return "# BEGIN berth network " + network + " (managed by berth; edits are lost)",
		"# END berth network " + network
}

// replaceHostsBlock returns content with the block of network replaced by
// entries (removed when entries is empty), leaving every other line alone.
func replaceHostsBlock(content, network string, entries []HostEntry) string {
	begin, end := blockMarkers(network)
	var out []string
	lines := strings.SplitAfter(content, "\n")
	in := false
	for _, l := range lines {
		t := strings.TrimRight(l, "\n")
		switch {
		case t == begin:
			in = true
		case in && t == end:
			in = false
		case !in && l != "":
			out = append(out, l)
		}
	}
	s := strings.Join(out, "")
	if s != "" && !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	if len(entries) == 0 {
		return s
	}
	var b strings.Builder
	b.WriteString(s)
	b.WriteString(begin + "\n")
	for _, e := range entries {
		fmt.Fprintf(&b, "%s\t%s\n", e.IP, strings.Join(e.Names, " "))
	}
	b.WriteString(end + "\n")
	return b.String()
}

// updateHostsFile rewrites network's block in the hosts file at path in
// place: the file is bind-mounted into a container, and a rename would leave
// the container with the old inode. A missing file is not an error (the
// container is gone). The file's own flock keeps two networks' updates of one
// container's file from interleaving.
func updateHostsFile(path, network string, entries []HostEntry) error {
	f, err := os.OpenFile(path, os.O_RDWR|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		if isNotExist(err) {
			return nil
		}
		return fmt.Errorf("opening hosts file: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return fmt.Errorf("hosts file %s is not a regular file", path)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("locking hosts file %s: %w", path, err)
	}
	old, err := readAllFrom(f)
	if err != nil {
		return fmt.Errorf("reading hosts file %s: %w", path, err)
	}
	next := replaceHostsBlock(old, network, entries)
	if next == old {
		return nil
	}
	// Write over the old bytes, then cut: a reader never finds the file
	// empty, at worst a mix of old and new for the instant of the write.
	if _, err := f.WriteAt([]byte(next), 0); err != nil {
		return fmt.Errorf("writing hosts file %s: %w", path, err)
	}
	if err := f.Truncate(int64(len(next))); err != nil {
		return fmt.Errorf("writing hosts file %s: %w", path, err)
	}
	return nil
}

func readAllFrom(f *os.File) (string, error) {
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	if st.Size() > 4<<20 {
		return "", fmt.Errorf("larger than 4 MiB")
	}
	buf := make([]byte, st.Size())
	n, err := f.ReadAt(buf, 0)
	if err != nil && n != len(buf) {
		return "", err
	}
	return string(buf[:n]), nil
}

// hostEntries lists the lines of network's block in the hosts file of
// self: its own address with its host name, container name, aliases and short
// ID, and with discovery every other member's (all but the host name, which
// docker's DNS does not answer either).
func hostEntries(eps []*endpoint, self *endpoint, discovery bool) []HostEntry {
	var out []HostEntry
	for _, ep := range eps {
		if ep != self && !discovery {
			continue
		}
		var names []string
		seen := map[string]bool{}
		add := func(s string) {
			if s != "" && !seen[s] {
				seen[s] = true
				names = append(names, s)
			}
		}
		if ep == self {
			add(ep.Hostname)
		}
		add(ep.Name)
		for _, a := range ep.Aliases {
			add(a)
		}
		id := ep.ContainerID
		if len(id) > 12 {
			id = id[:12]
		}
		add(id)
		out = append(out, HostEntry{IP: ep.IP, Names: names})
		if ep.IP6.IsValid() {
			out = append(out, HostEntry{IP: ep.IP6, Names: names})
		}
	}
	return out
}
