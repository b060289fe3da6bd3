package e2e

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/testutil"
)

// authedRegistry starts a registry that wants ci:pw for everything.
func authedRegistry(t *testing.T) *testutil.Registry {
	hash, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	htpasswd := filepath.Join(t.TempDir(), "htpasswd")
	os.WriteFile(htpasswd, []byte("ci:"+string(hash)+"\n"), 0o600)
	return testutil.StartRegistry(t, "", "--htpasswd", htpasswd)
}

func TestImgfeatLoginStdin(t *testing.T) {
	e := newImgfeatEnv(t)
	reg := authedRegistry(t)
	cfg := filepath.Join(e.Docker, "config.json")

	if _, errOut, code := e.run("wrong\n", "login", "-u", "ci", "--password-stdin", reg.Addr); code == 0 || !strings.Contains(errOut, "incorrect username or password") {
		t.Fatalf("login with a wrong password: exit %d, %q", code, errOut)
	}
	if _, err := os.Stat(cfg); err == nil {
		t.Fatal("wrong credentials were stored")
	}
	if _, errOut, code := e.run("pw\n", "login", "--password-stdin", reg.Addr); code != 125 || !strings.Contains(errOut, "--username") {
		t.Errorf("--password-stdin without -u: exit %d, %q", code, errOut)
	}
	if _, errOut, code := e.run("", "login", reg.Addr); code == 0 || !strings.Contains(errOut, "non TTY") {
		t.Errorf("login without credentials on a pipe: exit %d, %q", code, errOut)
	}
	if out, errOut, code := e.run("pw\n", "login", "-u", "ci", "--password-stdin", reg.Addr); code != 0 || !strings.Contains(out, "Login Succeeded") {
		t.Fatalf("login: exit %d, %q %q", code, out, errOut)
	}
	b, _ := os.ReadFile(cfg)
	if !strings.Contains(string(b), base64.StdEncoding.EncodeToString([]byte("ci:pw"))) {
		t.Errorf("config.json = %s", b)
	}
	// Stored credentials that work are used without asking.
	if out, _, code := e.run("", "login", reg.Addr); code != 0 || !strings.Contains(out, "Authenticating with existing credentials") {
		t.Errorf("login with stored credentials: exit %d, %q", code, out)
	}
	if _, errOut, code := e.run("", "login", "-u", "ci", "-p", "pw", reg.Addr); code != 0 || !strings.Contains(errOut, "WARNING! Using --password") {
		t.Errorf("login -p: exit %d, %q", code, errOut)
	}
	if out := e.ok("logout", reg.Addr); !strings.Contains(out, "Removing login credentials for "+reg.Addr) {
		t.Errorf("logout = %q", out)
	}
	if out := e.ok("logout", reg.Addr); !strings.Contains(out, "Not logged in") {
		t.Errorf("second logout = %q", out)
	}
}

// pty opens a pseudo-terminal pair.
func pty(t *testing.T) (master, slave *os.File) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return m, s
}

// ttyOutput collects what a program writes to the terminal.
type ttyOutput struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *ttyOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *ttyOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// waitFor polls the output until it contains s.
func (o *ttyOutput) waitFor(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(o.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("terminal never showed %q; it shows %q", s, o.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestImgfeatLoginInteractive(t *testing.T) {
	e := newImgfeatEnv(t)
	reg := authedRegistry(t)
	m, s := pty(t)
	defer m.Close()
	cmd := exec.Command(testutil.BerthBinary(t), "login", reg.Addr)
	cmd.Env = e.env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = s, s, s
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	out := &ttyOutput{}
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := m.Read(b)
			out.Write(b[:n])
			if err != nil {
				return
			}
		}
	}()
	out.waitFor(t, "Username: ")
	m.Write([]byte("ci\n"))
	out.waitFor(t, "Password: ")
	m.Write([]byte("secret-pw-typed\n"))
	// The registry wants "pw": the login fails, and the password was
	// never echoed.
	err := cmd.Wait()
	if err == nil {
		t.Fatal("login with a wrong typed password succeeded")
	}
	if strings.Contains(out.String(), "secret-pw-typed") {
		t.Errorf("the password was echoed: %q", out.String())
	}
	if !strings.Contains(out.String(), "ci") {
		t.Errorf("the username was not echoed: %q", out.String())
	}

	m2, s2 := pty(t)
	defer m2.Close()
	cmd = exec.Command(testutil.BerthBinary(t), "login", "-u", "ci", reg.Addr)
	cmd.Env = e.env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = s2, s2, s2
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s2.Close()
	out = &ttyOutput{}
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := m2.Read(b)
			out.Write(b[:n])
			if err != nil {
				return
			}
		}
	}()
	// -u given: only the password is asked for.
	out.waitFor(t, "Password: ")
	m2.Write([]byte("pw\n"))
	if err := cmd.Wait(); err != nil {
		t.Fatalf("interactive login: %v: %q", err, out.String())
	}
	out.waitFor(t, "Login Succeeded")
	if strings.Contains(out.String(), "Username") || strings.Contains(out.String(), "pw\r\n") {
		t.Errorf("terminal = %q", out.String())
	}
	if b, _ := os.ReadFile(filepath.Join(e.Docker, "config.json")); !strings.Contains(string(b), reg.Addr) {
		t.Errorf("config.json = %s", b)
	}
}

func TestImgfeatCredentialHelper(t *testing.T) {
	testutil.RequireRoot(t)
	e := newImgfeatEnv(t)
	reg := authedRegistry(t)
	// docker-credential-berthe2e keeps one credential per server in a file.
	bin, store := t.TempDir(), t.TempDir()
	script := `#!/bin/sh
in=$(cat)
case "$1" in
store) printf '%s' "$in" > ` + store + `/creds ;;
get) if [ -f ` + store + `/creds ]; then cat ` + store + `/creds; else echo "credentials not found in native keychain"; exit 1; fi ;;
erase) if [ -f ` + store + `/creds ]; then rm ` + store + `/creds; else echo "credentials not found in native keychain"; exit 1; fi ;;
esac
`
	os.WriteFile(filepath.Join(bin, "docker-credential-berthe2e"), []byte(script), 0o755)
	for i, kv := range e.env {
		if strings.HasPrefix(kv, "PATH=") {
			e.env[i] = "PATH=" + bin + ":" + strings.TrimPrefix(kv, "PATH=")
		}
	}
	cfg := filepath.Join(e.Docker, "config.json")
	os.WriteFile(cfg, []byte(`{"credHelpers": {"`+reg.Addr+`": "berthe2e"}}`), 0o600)

	if out, errOut, code := e.run("pw", "login", "-u", "ci", "--password-stdin", reg.Addr); code != 0 || !strings.Contains(out, "Login Succeeded") {
		t.Fatalf("login: exit %d, %q %q", code, out, errOut)
	}
	if b, _ := os.ReadFile(cfg); strings.Contains(string(b), base64.StdEncoding.EncodeToString([]byte("ci:pw"))) {
		t.Errorf("the password went to config.json: %s", b)
	}
	if b, _ := os.ReadFile(filepath.Join(store, "creds")); !strings.Contains(string(b), `"Secret":"pw"`) {
		t.Errorf("helper holds %q", b)
	}
	// push and pull take the credentials from the helper.
	ref := reg.Addr + "/" + imgfeatUniq("helper") + ":v1"
	seed := imgfeatSeed(e, ref)
	e.ok("--root", t.TempDir(), "pull", "-q", ref)

	if out := e.ok("logout", reg.Addr); !strings.Contains(out, "Removing login credentials") {
		t.Errorf("logout = %q", out)
	}
	if _, err := os.Stat(filepath.Join(store, "creds")); err == nil {
		t.Error("logout left the credentials in the helper")
	}
	e.fails("access denied", "--root", t.TempDir(), "pull", ref)
	// podman's --creds: for one pull, nothing stored.
	e.fails("access denied", "--root", t.TempDir(), "pull", "--creds", "ci:nope", ref)
	e.ok("--root", t.TempDir(), "pull", "-q", "--creds", "ci:pw", ref)
	e.fails("access denied", "--root", seed, "push", "--creds", "ci:nope", ref)
	e.ok("--root", seed, "push", "-q", "--creds", "ci:pw", ref)
	if _, err := os.Stat(filepath.Join(store, "creds")); err == nil {
		t.Error("pull --creds stored the credentials")
	}
}
