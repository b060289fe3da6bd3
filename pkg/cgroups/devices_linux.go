package cgroups

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/pkg/errdefs"
)

func (m *manager) setDevices(r *specs.LinuxResources) error {
	if len(r.Devices) == 0 {
		return nil
	}
	dir, v2, err := m.need("devices", "devices")
	if err != nil {
		return err
	}
	if v2 {
		if err := attachDeviceFilter(dir, r.Devices); err != nil {
			return fmt.Errorf("%sdevices: %w", res, err)
		}
		return nil
	}
	// A running container must not lose its devices while an update
	// rewrites the same list: when both the cgroup and the spec are
	// allow-lists, only the differences are written.
	if cur, err := readString(dir, "devices.list"); err == nil {
		if denies, allows, ok := diffDevices(cur, r.Devices); ok {
			for _, d := range denies {
				if err := setFile(res+"devices", dir, "devices.deny", d); err != nil {
					return err
				}
			}
			for _, a := range allows {
				if err := setFile(res+"devices", dir, "devices.allow", a); err != nil {
					return err
				}
			}
			return nil
		}
	}
	// Otherwise v1 applies the rules in order, as the spec does: usually
	// a "deny all" first, then the allowed devices. Each write is one
	// rule, so devices.allow and devices.deny are opened once each.
	w := &ruleWriter{dir: dir}
	defer w.close()
	for i, d := range r.Devices {
		file := "devices.deny"
		if d.Allow {
			file = "devices.allow"
		}
		if err := w.write(fmt.Sprintf("%sdevices[%d]", res, i), file, v1DeviceRule(d)); err != nil {
			return err
		}
	}
	return nil
}

// ruleWriter writes v1 device rules, keeping each control file open.
type ruleWriter struct {
	dir         string
	allow, deny *os.File
}

func (w *ruleWriter) write(fld, file, rule string) error {
	fp := &w.deny
	if file == "devices.allow" {
		fp = &w.allow
	}
	if *fp == nil {
		f, err := os.OpenFile(filepath.Join(w.dir, file), os.O_WRONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return setFile(fld, w.dir, file, rule) // reports the error as a single write would
		}
		*fp = f
	}
	if _, err := (*fp).WriteString(rule); err != nil {
		return &FieldError{Field: fld, Kind: errdefs.ErrInvalidArgument,
			Msg: fmt.Sprintf("writing %q to %s", rule, filepath.Join(w.dir, file)), Err: unwrapPath(err)}
	}
	return nil
}

func (w *ruleWriter) close() {
	for _, f := range []*os.File{w.allow, w.deny} {
		if f != nil {
			f.Close()
		}
	}
}

// v1DeviceRule spells a rule for devices.allow/deny: "c 1:3 rwm", or "a"
// for every device.
func v1DeviceRule(d specs.LinuxDeviceCgroup) string {
	t := d.Type
	if t == "" || t == "a" {
		if isWild(d.Major) && isWild(d.Minor) && (d.Access == "" || d.Access == "rwm") {
			return "a"
		}
		t = "a"
	}
	access := d.Access
	if access == "" {
		access = "rwm"
	}
	return fmt.Sprintf("%s %s:%s %s", t, devNum(d.Major), devNum(d.Minor), access)
}

func isWild(p *int64) bool { return p == nil || *p == -1 }

func devNum(p *int64) string {
	if isWild(p) {
		return "*"
	}
	return strconv.FormatInt(*p, 10)
}

// diffDevices compares a v1 devices.list (an allow-list unless it holds
// "a *:* rwm") with rules of the usual shape, "deny all" then allows. It
// returns the deny and allow lines that turn one into the other, removing
// only the access bits that go away, so nothing that stays is ever
// denied. ok is false when either side has another shape.
func diffDevices(list string, rules []specs.LinuxDeviceCgroup) (denies, allows []string, ok bool) {
	if len(rules) == 0 || rules[0].Allow || v1DeviceRule(rules[0]) != "a" {
		return nil, nil, false
	}
	want := map[string]string{}
	for _, d := range rules[1:] {
		if !d.Allow {
			return nil, nil, false
		}
		k, acc := deviceKey(v1DeviceRule(d))
		if k == "a *:*" {
			return nil, nil, false
		}
		want[k] = mergeAccess(want[k], acc)
	}
	have := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(list), "\n") {
		if line == "" {
			continue
		}
		k, acc := deviceKey(line)
		if k == "a *:*" {
			return nil, nil, false
		}
		have[k] = mergeAccess(have[k], acc)
	}
	for _, k := range sortedKeys(have) {
		if gone := subtractAccess(have[k], want[k]); gone != "" {
			denies = append(denies, k+" "+gone)
		}
	}
	for _, k := range sortedKeys(want) {
		if added := subtractAccess(want[k], have[k]); added != "" {
			allows = append(allows, k+" "+added)
		}
	}
	return denies, allows, true
}

// deviceKey splits "c 1:3 rw" into "c 1:3" and "rw"; "a" is "a *:*" "rwm".
func deviceKey(rule string) (string, string) {
	f := strings.Fields(rule)
	switch len(f) {
	case 1:
		return f[0] + " *:*", "rwm"
	case 2:
		return f[0] + " " + f[1], "rwm"
	default:
		return f[0] + " " + f[1], f[2]
	}
}

func mergeAccess(a, b string) string { return normAccess(a + b) }

func subtractAccess(a, b string) string {
	var out []byte
	for _, c := range []byte("rwm") {
		if strings.IndexByte(a, c) >= 0 && strings.IndexByte(b, c) < 0 {
			out = append(out, c)
		}
	}
	return string(out)
}

func normAccess(a string) string { return subtractAccess(a, "") }

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
