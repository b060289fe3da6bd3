package cgroups

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the process put into cgroups: with
// BERTH_CGROUPS_HELPER set it waits for a line on stdin (so the test can
// move it into a cgroup first), then does what the variable names.
func TestMain(m *testing.M) {
	if mode := os.Getenv("BERTH_CGROUPS_HELPER"); mode != "" {
		os.Exit(helperMain(mode))
	}
	os.Exit(m.Run())
}

func helperMain(mode string) int {
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		return 3
	}
	switch mode {
	case "hog":
		// Touch far more memory than the test's limit allows.
		var keep [][]byte
		for range 1024 {
			b := make([]byte, 1<<20)
			for i := 0; i < len(b); i += 4096 {
				b[i] = 1
			}
			keep = append(keep, b)
		}
		fmt.Println("survived", len(keep))
		return 0
	case "open":
		// Report, per device, whether read and write opens succeed.
		for _, p := range []string{"/dev/null", "/dev/zero"} {
			for _, flag := range []int{os.O_RDONLY, os.O_WRONLY} {
				f, err := os.OpenFile(p, flag, 0)
				res := "ok"
				if err != nil {
					res = "denied"
					if !errors.Is(err, syscall.EPERM) {
						res = err.Error()
					}
				} else {
					f.Close()
				}
				fmt.Printf("%s %d %s\n", p, flag, res)
			}
		}
		return 0
	case "work":
		// Use some CPU time and memory, then exit.
		b := make([]byte, 8<<20)
		sum := 0
		for r := 0; r < 20; r++ {
			for i := 0; i < len(b); i += 64 {
				b[i]++
				sum += int(b[i])
			}
		}
		fmt.Println(sum)
		return 0
	case "wait":
		_, _ = io.Copy(io.Discard, os.Stdin)
		return 0
	}
	return 2
}

// helper is a started helper process waiting for its go line.
type helper struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *strings.Builder
	done  chan error
}

func startHelper(t *testing.T, mode string) *helper {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "BERTH_CGROUPS_HELPER="+mode)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	h := &helper{cmd: cmd, stdin: stdin, out: &strings.Builder{}, done: make(chan error, 1)}
	cmd.Stdout = h.out
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { h.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-h.done
		h.done <- nil
	})
	return h
}

// release lets the helper go without waiting for it.
func (h *helper) release(t *testing.T) {
	t.Helper()
	if _, err := io.WriteString(h.stdin, "go\n"); err != nil {
		t.Fatal(err)
	}
	h.stdin.Close()
}

// run lets the helper go and returns its exit error and output.
func (h *helper) run(t *testing.T) (error, string) {
	t.Helper()
	h.release(t)
	select {
	case err := <-h.done:
		h.done <- err
		return err, h.out.String()
	case <-time.After(60 * time.Second):
		t.Fatal("helper did not finish within 60s")
	}
	return nil, ""
}

func (h *helper) pid() int { return h.cmd.Process.Pid }

// uniquePath returns an absolute cgroup path no other test run uses.
func uniquePath(t testing.TB) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "/berth-test-" + strings.ReplaceAll(strings.ToLower(t.Name()), "/", "-") + "-" + hex.EncodeToString(b)
}

// newTestManager returns a Manager of a fresh cgroup that is killed and
// removed when the test ends, whatever happened.
func newTestManager(t *testing.T, p string) Manager {
	t.Helper()
	m, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if m.Exists() {
			_ = m.Thaw()
			_ = m.Signal(syscall.SIGKILL)
		}
		if err := m.Destroy(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return m
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func strconvItoa(i int) string { return fmt.Sprint(i) }

func timeAfter(sec int) time.Time { return time.Now().Add(time.Duration(sec) * time.Second) }
