package testutil

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Bundle makes an OCI bundle in a temporary directory: a fresh busybox
// rootfs and spec written as config.json (with root.path "rootfs").
// It returns the bundle directory.
func Bundle(t testing.TB, spec *specs.Spec) string {
	t.Helper()
	rootfs := BusyboxRootfs(t)
	dir := filepath.Dir(rootfs)
	spec.Root = &specs.Root{Path: "rootfs", Readonly: spec.Root != nil && spec.Root.Readonly}
	WriteSpec(t, dir, spec)
	return dir
}

// WriteSpec writes spec as bundle/config.json.
func WriteSpec(t testing.TB, bundle string, spec *specs.Spec) {
	t.Helper()
	b, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}
