package runtime_test

import (
	"os"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Regression tests for what the OCI runtime-tools validation suite and
// podman found (see docs/runtime-conformance.md).

// Ambient capabilities that are not also inheritable cannot be raised; the
// spec the suite generates (like `runc spec`) lists ambient without
// inheritable, and the container must still start, with those left out.
func TestAmbientWithoutInheritable(t *testing.T) {
	rt := newRuntime(t)
	spec := testSpec("sh", "-c", "grep -E '^Cap(Eff|Amb)' /proc/self/status")
	c := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	spec.Process.Capabilities = &specs.LinuxCapabilities{Bounding: c, Effective: c, Permitted: c, Ambient: c}
	code, out, err := runOutput(t, rt, spec)
	if err != nil || code != 0 {
		t.Fatalf("run: code %d, err %v, output %q", code, err, out)
	}
	if !strings.Contains(out, "CapEff:\t0000000020000420") || !strings.Contains(out, "CapAmb:\t0000000000000000") {
		t.Errorf("capabilities %q: want effective AUDIT_WRITE|KILL|NET_BIND_SERVICE and no ambient", out)
	}
}

// rootfsPropagation "shared" used to fail pivot_root with EINVAL (the root
// mount was shared), "unbindable" the rootfs bind mount; the container must
// start with the root propagation asked for.
func TestRootfsPropagationShared(t *testing.T) {
	for _, prop := range []string{"shared", "rshared", "slave", "private", "unbindable"} {
		t.Run(prop, func(t *testing.T) {
			rt := newRuntime(t)
			spec := testSpec("sh", "-c", "awk '$5 == \"/\"' /proc/self/mountinfo")
			spec.Linux.RootfsPropagation = prop
			code, out, err := runOutput(t, rt, spec)
			if err != nil || code != 0 {
				t.Fatalf("run: code %d, err %v, output %q", code, err, out)
			}
			shared := strings.Contains(out, " shared:")
			if want := strings.HasSuffix(prop, "shared"); shared != want {
				t.Errorf("root mount %q: shared %v, want %v", out, shared, want)
			}
			unbindable := strings.Contains(out, " unbindable")
			if want := strings.HasSuffix(prop, "unbindable"); unbindable != want {
				t.Errorf("root mount %q: unbindable %v, want %v", out, unbindable, want)
			}
		})
	}
}

// A failing poststart or poststop hook is a warning: the lifecycle goes on
// and the hooks after it still run (runtime-tools poststart_fail and
// poststop_fail).
func TestFailingPostHooksWarnOnly(t *testing.T) {
	rt := newRuntime(t)
	dir := t.TempDir()
	spec := testSpec("true")
	hooks := func(name string) []specs.Hook {
		return []specs.Hook{
			{Path: "/bin/false", Args: []string{"false"}},
			{Path: "/bin/sh", Args: []string{"sh", "-c", "echo " + name + " >> " + dir + "/ran"}},
		}
	}
	spec.Hooks = &specs.Hooks{Poststart: hooks("poststart"), Poststop: hooks("poststop")}
	code, out, err := runOutput(t, rt, spec)
	if err != nil || code != 0 {
		t.Fatalf("run with failing poststart/poststop hooks: code %d, err %v, output %q", code, err, out)
	}
	b, err := os.ReadFile(dir + "/ran")
	if err != nil || string(b) != "poststart\npoststop\n" {
		t.Errorf("hooks after the failing ones ran: %q (%v), want poststart and poststop", b, err)
	}
}
