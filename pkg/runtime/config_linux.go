package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/pkg/errdefs"
)

// nsFlags maps OCI namespace types to clone flags.
var nsFlags = map[specs.LinuxNamespaceType]int{
	specs.PIDNamespace:     unix.CLONE_NEWPID,
	specs.NetworkNamespace: unix.CLONE_NEWNET,
	specs.MountNamespace:   unix.CLONE_NEWNS,
	specs.IPCNamespace:     unix.CLONE_NEWIPC,
	specs.UTSNamespace:     unix.CLONE_NEWUTS,
	specs.UserNamespace:    unix.CLONE_NEWUSER,
	specs.CgroupNamespace:  unix.CLONE_NEWCGROUP,
	specs.TimeNamespace:    unix.CLONE_NEWTIME,
}

// nsProcName is the entry under /proc/PID/ns for each type.
var nsProcName = map[specs.LinuxNamespaceType]string{
	specs.PIDNamespace:     "pid",
	specs.NetworkNamespace: "net",
	specs.MountNamespace:   "mnt",
	specs.IPCNamespace:     "ipc",
	specs.UTSNamespace:     "uts",
	specs.UserNamespace:    "user",
	specs.CgroupNamespace:  "cgroup",
	specs.TimeNamespace:    "time",
}

// joinOrder is the order namespaces are joined in: user last, so that the
// others are joined with the host's privileges (the runtime runs as root)
// whichever user namespace owns them, and a joined user namespace then
// owns the namespaces made after it.
var joinOrder = []specs.LinuxNamespaceType{
	specs.IPCNamespace, specs.UTSNamespace, specs.NetworkNamespace,
	specs.PIDNamespace, specs.CgroupNamespace, specs.TimeNamespace, specs.MountNamespace,
	specs.UserNamespace,
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), errdefs.ErrInvalidArgument)
}

// LoadSpec reads and validates bundle/config.json and returns the spec and
// the absolute path of its root filesystem.
func LoadSpec(bundle string) (*specs.Spec, string, error) {
	path := filepath.Join(bundle, "config.json")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, "", fmt.Errorf("bundle %q has no config.json: %w", bundle, errdefs.ErrNotFound)
	}
	if err != nil {
		return nil, "", fmt.Errorf("reading %s: %w", path, err)
	}
	var w specJSON
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&w); err != nil {
		return nil, "", invalid("%s is not a valid OCI config: %v", path, err)
	}
	spec := w.Spec
	rootfs, err := validateSpec(&spec, bundle)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	return &spec, rootfs, nil
}

// specJSON is how the runtime reads and writes a specs.Spec: the sections
// for other platforms (solaris, windows, vm, zos) stay raw JSON. For every
// struct it meets, encoding/json builds the codecs of all its fields' types
// up front, so decoding a plain specs.Spec costs the codecs of all those
// platforms' types too, in every runtime process.
type specJSON struct {
	specs.Spec
	Solaris json.RawMessage `json:"solaris,omitempty"`
	Windows json.RawMessage `json:"windows,omitempty"`
	VM      json.RawMessage `json:"vm,omitempty"`
	ZOS     json.RawMessage `json:"zos,omitempty"`
}

// validateSpec checks what the runtime relies on and names the bad field.
func validateSpec(spec *specs.Spec, bundle string) (string, error) {
	if spec.Version == "" {
		return "", invalid("ociVersion is empty")
	}
	if spec.Root == nil || spec.Root.Path == "" {
		return "", invalid("root.path is empty")
	}
	rootfs := spec.Root.Path
	if !filepath.IsAbs(rootfs) {
		rootfs = filepath.Join(bundle, rootfs)
	}
	rootfs, err := filepath.Abs(rootfs)
	if err != nil {
		return "", err
	}
	if fi, err := os.Stat(rootfs); err != nil {
		return "", fmt.Errorf("root.path %q: %w", spec.Root.Path, errdefs.ErrNotFound)
	} else if !fi.IsDir() {
		return "", invalid("root.path %q is not a directory", spec.Root.Path)
	}
	if rootfs, err = filepath.EvalSymlinks(rootfs); err != nil {
		return "", fmt.Errorf("root.path %q: %w", spec.Root.Path, err)
	}
	if spec.Process == nil {
		return "", invalid("process is missing")
	}
	if err := validateProcess(spec.Process); err != nil {
		return "", err
	}
	if spec.Linux == nil {
		return "", invalid("linux is missing")
	}
	seen := map[specs.LinuxNamespaceType]bool{}
	for i, ns := range spec.Linux.Namespaces {
		if _, ok := nsFlags[ns.Type]; !ok {
			return "", invalid("linux.namespaces[%d].type %q is not a namespace type", i, ns.Type)
		}
		if seen[ns.Type] {
			return "", invalid("linux.namespaces[%d].type %q appears twice", i, ns.Type)
		}
		seen[ns.Type] = true
		if ns.Path != "" && !filepath.IsAbs(ns.Path) {
			return "", invalid("linux.namespaces[%d].path %q is not absolute", i, ns.Path)
		}
		if ns.Path != "" {
			if _, err := os.Stat(ns.Path); err != nil {
				return "", invalid("linux.namespaces[%d].path %q: %v", i, ns.Path, err)
			}
		}
	}
	if (len(spec.Linux.UIDMappings) > 0 || len(spec.Linux.GIDMappings) > 0) && !seen[specs.UserNamespace] {
		return "", invalid("linux.uidMappings set without a user namespace")
	}
	if spec.Hostname != "" && !hasNewNS(spec, specs.UTSNamespace) && !hasNS(spec, specs.UTSNamespace) {
		return "", invalid("hostname %q set without a uts namespace", spec.Hostname)
	}
	for i, m := range spec.Mounts {
		if !filepath.IsAbs(m.Destination) {
			return "", invalid("mounts[%d].destination %q is not absolute", i, m.Destination)
		}
		if _, _, _, _, err := parseMountOptions(m.Options); err != nil {
			return "", fmt.Errorf("mounts[%d] (%s): %w", i, m.Destination, err)
		}
		if err := checkTmpcopyup(m); err != nil {
			return "", fmt.Errorf("mounts[%d] (%s): %w", i, m.Destination, err)
		}
		if err := checkMountAttrs(spec, m); err != nil {
			return "", fmt.Errorf("mounts[%d] (%s): %w", i, m.Destination, err)
		}
	}
	if spec.Hooks != nil {
		for name, hs := range map[string][]specs.Hook{
			"prestart": spec.Hooks.Prestart, "createRuntime": spec.Hooks.CreateRuntime,
			"createContainer": spec.Hooks.CreateContainer, "startContainer": spec.Hooks.StartContainer,
			"poststart": spec.Hooks.Poststart, "poststop": spec.Hooks.Poststop,
		} {
			for i, h := range hs {
				if !filepath.IsAbs(h.Path) {
					return "", invalid("hooks.%s[%d].path %q is not absolute", name, i, h.Path)
				}
			}
		}
	}
	for i, d := range spec.Linux.Devices {
		if !filepath.IsAbs(d.Path) {
			return "", invalid("linux.devices[%d].path %q is not absolute", i, d.Path)
		}
		switch d.Type {
		case "c", "b", "u", "p":
		default:
			return "", invalid("linux.devices[%d].type %q is not c, b, u or p", i, d.Type)
		}
	}
	return rootfs, nil
}

func validateProcess(p *specs.Process) error {
	if len(p.Args) == 0 && p.CommandLine == "" {
		return invalid("process.args is empty")
	}
	if p.Cwd == "" || !filepath.IsAbs(p.Cwd) {
		return invalid("process.cwd %q is not absolute", p.Cwd)
	}
	for i, rl := range p.Rlimits {
		if _, ok := rlimitNames[rl.Type]; !ok {
			return invalid("process.rlimits[%d].type %q is not a resource limit", i, rl.Type)
		}
		if rl.Soft > rl.Hard {
			return invalid("process.rlimits[%d] (%s): soft %d exceeds hard %d", i, rl.Type, rl.Soft, rl.Hard)
		}
	}
	if p.Capabilities != nil {
		for set, caps := range map[string][]string{"bounding": p.Capabilities.Bounding, "effective": p.Capabilities.Effective,
			"inheritable": p.Capabilities.Inheritable, "permitted": p.Capabilities.Permitted, "ambient": p.Capabilities.Ambient} {
			for _, c := range caps {
				if _, ok := capNumber(c); !ok {
					return invalid("process.capabilities.%s: unknown capability %q", set, c)
				}
			}
		}
	}
	return nil
}

// hasNewNS reports whether the spec asks for a new namespace of type t.
func hasNewNS(spec *specs.Spec, t specs.LinuxNamespaceType) bool {
	if spec.Linux == nil {
		return false
	}
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == t && ns.Path == "" {
			return true
		}
	}
	return false
}

// hasNS reports whether the spec names a namespace of type t at all.
func hasNS(spec *specs.Spec, t specs.LinuxNamespaceType) bool {
	if spec.Linux == nil {
		return false
	}
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == t {
			return true
		}
	}
	return false
}
