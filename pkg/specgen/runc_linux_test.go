package specgen

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth/berth/internal/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// probeScript prints what the container sees of its confinement.
const probeScript = `
grep -E '^(CapEff|CapBnd|CapInh|CapAmb|Seccomp|NoNewPrivs):' /proc/self/status | tr -d '\t' | tr ':' '='
if grep -q ' /proc/keys ' /proc/mounts; then echo keys=masked; else echo keys=visible; fi
echo sys=$(awk '$2 == "/sys" { split($4, o, ","); print o[1] }' /proc/mounts)
if echo 1 > /proc/sys/kernel/berth-probe 2>/dev/null || touch /proc/sysrq-trigger 2>/dev/null; then echo procsys=rw; else echo procsys=ro; fi
if unshare -U true 2>/dev/null; then echo userns=allowed; else echo userns=denied; fi
echo uid=$(id -u) gid=$(id -g)
echo nofile=$(ulimit -n)
`

// runtimes are the OCI runtimes the generated spec is tried with: runc (the
// reference; its libseccomp compiles the same profile) and, once it loads
// seccomp filters (pkg/seccomp), berth's own runtime.
func runtimes(t *testing.T) map[string]string {
	out := map[string]string{"runc": testutil.RequireCommand(t, "runc")}
	if path := os.Getenv("BERTH_SPECGEN_RUNTIME"); path != "" {
		out["berth-runtime"] = path
		return out
	}
	berth := testutil.BerthBinary(t)
	rt := filepath.Join(filepath.Dir(berth), "berth-runtime")
	data, err := exec.Command(rt, "features").Output()
	if err != nil {
		t.Logf("berth-runtime features: %v: trying runc only", err)
		return out
	}
	var f struct {
		Linux struct {
			Seccomp struct {
				Enabled *bool `json:"enabled"`
			} `json:"seccomp"`
		} `json:"linux"`
	}
	if json.Unmarshal(data, &f) == nil && f.Linux.Seccomp.Enabled != nil && *f.Linux.Seccomp.Enabled {
		out["berth-runtime"] = rt
	} else {
		t.Logf("berth-runtime does not load seccomp filters yet: trying runc only")
	}
	return out
}

// TestRuntimesRunSpec hands generated specs to real runtimes and checks, from
// inside the container, that the defaults are in force.
func TestRuntimesRunSpec(t *testing.T) {
	testutil.RequireRoot(t)
	rts := runtimes(t)
	rootfs := testutil.BusyboxRootfs(t)

	tests := []struct {
		name string
		opts Options
		want map[string]string
	}{
		{"defaults", Options{}, map[string]string{
			"CapEff": capHex(defaultCaps), "CapBnd": capHex(defaultCaps), "CapInh": capHex(nil), "CapAmb": capHex(nil),
			"Seccomp": "2", "NoNewPrivs": "0", "keys": "masked", "userns": "denied", "sys": "ro", "procsys": "ro", "uid": "0",
		}},
		{"hardened", Options{User: "1000:1000", CapDrop: []string{"ALL"}, NoNewPrivileges: true,
			Ulimits: []specs.POSIXRlimit{{Type: "nofile", Soft: 256, Hard: 512}}}, map[string]string{
			"CapEff": capHex(nil), "CapBnd": capHex(nil), "Seccomp": "2", "NoNewPrivs": "1",
			"uid": "1000", "gid": "1000", "nofile": "256",
		}},
		{"privileged", Options{Privileged: true}, map[string]string{
			"Seccomp": "0", "keys": "visible", "sys": "rw",
		}},
		{"unconfined", Options{Seccomp: SeccompUnconfined}, map[string]string{
			"Seccomp": "0", "CapEff": capHex(defaultCaps), "keys": "masked", "userns": "allowed",
		}},
	}
	for rtName, runc := range rts {
		for _, tt := range tests {
			t.Run(rtName+"/"+tt.name, func(t *testing.T) {
				o := tt.opts
				o.Rootfs = rootfs
				o.Args = []string{"/bin/sh", "-c", probeScript}
				o.NetNS = NSHost // no network setup needed
				id := "berth-specgen-" + randHex()
				o.CgroupsPath = "/" + id
				s, err := New(o)
				if err != nil {
					t.Fatal(err)
				}
				bundle := t.TempDir()
				data, err := json.Marshal(s)
				if err != nil {
					t.Fatal(err)
				}
				must(t, os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o600))
				state := t.TempDir()
				cmd := exec.Command(runc, "--root", state, "run", "--bundle", bundle, id)
				var out, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &stderr
				err = cmd.Run()
				_ = exec.Command(runc, "--root", state, "delete", "--force", id).Run()
				if err != nil {
					t.Fatalf("%s run: %v\n%s%s", rtName, err, stderr.String(), out.String())
				}
				got := map[string]string{}
				for _, f := range strings.Fields(out.String()) {
					if k, v, ok := strings.Cut(f, "="); ok {
						got[k] = v
					}
				}
				for k, w := range tt.want {
					if got[k] != w {
						t.Errorf("%s = %q, want %q (output:\n%s)", k, got[k], w, out.String())
					}
				}
			})
		}
	}
}

// capHex renders a capability set the way /proc/self/status does.
func capHex(caps []string) string {
	var mask uint64
	for _, c := range caps {
		for i, n := range capNames {
			if n == c {
				mask |= 1 << i
			}
		}
	}
	return fmt.Sprintf("%016x", mask)
}

func randHex() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
