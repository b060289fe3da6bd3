package engine

import (
	"bytes"
	"encoding/json"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestMarshalSpecAsPlain: the shadowing wrapper writes what json.Marshal of
// the spec writes, for a spec as berth builds it and for one with another
// platform's section (which takes the plain path).
func TestMarshalSpecAsPlain(t *testing.T) {
	built, err := buildSpec(specInput{c: &Container{ID: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", Name: "x", Path: "true",
		Config: Config{Cmd: []string{"true"}, Env: []string{"A=1"}}}, rootfs: t.TempDir(), etcDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	zero, pids := uint32(0), int64(5)
	full := &specs.Spec{Version: "1.2.0", Hostname: "h", Annotations: map[string]string{"a": "b"},
		Process: &specs.Process{Args: []string{"sh"}, User: specs.User{UID: 1, Umask: &zero}, ConsoleSize: &specs.Box{Height: 1},
			Rlimits: []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1, Soft: 1}}, Capabilities: &specs.LinuxCapabilities{Bounding: []string{"CAP_KILL"}}},
		Root: &specs.Root{Path: "rootfs"}, Mounts: []specs.Mount{{Destination: "/proc", Type: "proc"}},
		Linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: "pid"}}, Resources: &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: &pids}},
			Seccomp: &specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_ERRNO", Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: "SCMP_ACT_ALLOW"}}}}}
	other := *full
	other.Windows = &specs.Windows{LayerFolders: []string{`C:\\l`}}
	for name, spec := range map[string]*specs.Spec{"built": built, "full": full, "windows": &other, "empty": {}} {
		want, err := json.Marshal(spec)
		if err != nil {
			t.Fatal(err)
		}
		got, err := marshalSpec(spec)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: marshalSpec differs from json.Marshal:\n got %s\nwant %s", name, got, want)
		}
	}
}
