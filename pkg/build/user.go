package build

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"

	"github.com/berth/berth/pkg/build/fscopy"
	"github.com/berth/berth/pkg/errdefs"
)

// IDs is a resolved USER: numeric uid, gid and supplementary groups.
type IDs struct {
	UID, GID   int
	Additional []int
}

// lookupUser resolves spec ("user", "uid", "user:group", "uid:gid") in
// the rootfs's /etc/passwd and /etc/group, as docker does.
func lookupUser(t *fscopy.Tree, spec string) (IDs, error) {
	if spec == "" {
		return IDs{}, nil
	}
	u, g, hasGroup := strings.Cut(spec, ":")
	passwd := readDB(t, "/etc/passwd")
	var ids IDs
	found := false
	if n, err := strconv.Atoi(u); err == nil {
		ids.UID, found = n, true
		for _, f := range passwd {
			if len(f) > 3 && f[2] == u {
				ids.GID, _ = strconv.Atoi(f[3])
				u = f[0]
				break
			}
		}
	} else {
		for _, f := range passwd {
			if len(f) > 3 && f[0] == u {
				ids.UID, _ = strconv.Atoi(f[2])
				ids.GID, _ = strconv.Atoi(f[3])
				found = true
				break
			}
		}
	}
	if !found {
		return IDs{}, fmt.Errorf("unable to find user %s: no matching entries in passwd file: %w", u, errdefs.ErrNotFound)
	}
	groups := readDB(t, "/etc/group")
	if hasGroup {
		if n, err := strconv.Atoi(g); err == nil {
			ids.GID = n
		} else {
			ok := false
			for _, f := range groups {
				if len(f) > 2 && f[0] == g {
					ids.GID, _ = strconv.Atoi(f[2])
					ok = true
					break
				}
			}
			if !ok {
				return IDs{}, fmt.Errorf("unable to find group %s: no matching entries in group file: %w", g, errdefs.ErrNotFound)
			}
		}
		ids.Additional = []int{ids.GID}
		return ids, nil
	}
	// As docker does, the primary group is a supplementary group too.
	ids.Additional = []int{ids.GID}
	for _, f := range groups {
		if len(f) > 3 {
			for _, m := range strings.Split(f[3], ",") {
				if m == u {
					if gid, err := strconv.Atoi(f[2]); err == nil && gid != ids.GID {
						ids.Additional = append(ids.Additional, gid)
					}
				}
			}
		}
	}
	return ids, nil
}

// readDB reads a colon-separated database file from the rootfs, at most 4 MiB.
func readDB(t *fscopy.Tree, p string) [][]string {
	r, err := t.Resolve(p, true)
	if err != nil {
		return nil
	}
	f, err := t.Root().Open(r)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out [][]string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, strings.Split(line, ":"))
	}
	return out
}

// parseChown resolves a --chown value against the rootfs.
func parseChown(t *fscopy.Tree, spec string) (*fscopy.Owner, error) {
	if spec == "" {
		return nil, nil
	}
	u, g, hasGroup := strings.Cut(spec, ":")
	var o fscopy.Owner
	if n, err := strconv.Atoi(u); err == nil {
		o.UID = n
		if !hasGroup {
			o.GID = n
		}
	} else {
		ids, err := lookupUser(t, u)
		if err != nil {
			return nil, fmt.Errorf("--chown=%s: %w", spec, err)
		}
		o.UID, o.GID = ids.UID, ids.GID
	}
	if hasGroup {
		if n, err := strconv.Atoi(g); err == nil {
			o.GID = n
		} else {
			ok := false
			for _, f := range readDB(t, "/etc/group") {
				if len(f) > 2 && f[0] == g {
					o.GID, _ = strconv.Atoi(f[2])
					ok = true
				}
			}
			if !ok {
				return nil, fmt.Errorf("--chown=%s: unable to find group %s: %w", spec, g, errdefs.ErrNotFound)
			}
		}
	}
	return &o, nil
}
