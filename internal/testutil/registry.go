package testutil

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// GoTool returns the path of a Go tool that scripts/deps.d/go-tools installs
// (crane, conformance): on PATH or in GOPATH/bin. It skips t (fails it in CI)
// when the tool is absent.
func GoTool(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
			gopath = strings.TrimSpace(string(out))
		}
	}
	p := filepath.Join(gopath, "bin", name)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	missing(t, name+" is not installed; `make deps` installs it (scripts/deps.d/go-tools)")
	return ""
}

// Registry is a `berth registry serve` process started by StartRegistry.
type Registry struct {
	// Addr is host:port on loopback.
	Addr string
	// Root is the storage directory.
	Root string
	// Cmd is the running server.
	Cmd *exec.Cmd
}

// StartRegistry runs `berth registry serve` on a free loopback port with a
// storage root (a fresh temporary directory unless root is set) and extra
// flags, waits until it listens, and stops it when t ends.
func StartRegistry(t testing.TB, root string, args ...string) *Registry {
	t.Helper()
	if root == "" {
		root = t.TempDir()
	}
	full := append([]string{"registry", "serve", "--addr", "127.0.0.1:0", "--root", root}, args...)
	cmd := exec.Command(BerthBinary(t), full...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(t.TempDir(), "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting berth registry serve: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
	})
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "berth registry listening on "); ok {
				addrc <- a
			}
		}
		close(addrc)
	}()
	select {
	case addr, ok := <-addrc:
		if !ok {
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("berth registry serve exited: %s", b)
		}
		return &Registry{Addr: addr, Root: root, Cmd: cmd}
	case <-time.After(30 * time.Second):
		t.Fatal("berth registry serve did not start listening within 30s")
	}
	return nil
}
