package registry_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth/berth/pkg/errdefs"
	"github.com/berth/berth/pkg/registry"
)

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, body string
		ok         bool
		check      func(registry.Config) bool
	}{
		{"full", `{"addr":":5001","root":"/r","htpasswd":"/h","anonymousPull":true,"gcInterval":"2h","gcGrace":"30m","readOnly":true}`, true,
			func(c registry.Config) bool {
				return c.Addr == ":5001" && c.Root == "/r" && c.AnonymousPull && c.ReadOnly &&
					time.Duration(c.GCInterval) == 2*time.Hour && time.Duration(c.GCGrace) == 30*time.Minute
			}},
		{"empty", `{}`, true, func(c registry.Config) bool { return c.Addr == "" }},
		{"unknown field", `{"adress":":1"}`, false, nil},
		{"bad duration", `{"gcGrace":"soon"}`, false, nil},
		{"not json", `addr: :5000`, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name+".json")
			if err := os.WriteFile(p, []byte(tc.body), 0o644); err != nil {
				t.Fatal(err)
			}
			c, err := registry.LoadConfig(p)
			if (err == nil) != tc.ok {
				t.Fatalf("err %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Errorf("error %v is not ErrInvalidArgument", err)
			}
			if tc.check != nil && !tc.check(c) {
				t.Errorf("config %+v", c)
			}
		})
	}
}

// TestServeCollects runs the server as the CLI does, with collection every
// few milliseconds, and waits for a collection to show in the metrics.
func TestServeCollects(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var access lockedBuffer
	addrc := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- registry.Serve(ctx, registry.Config{Addr: "127.0.0.1:0", Root: t.TempDir(), GCInterval: registry.Duration(20 * time.Millisecond)},
			registry.ServeOptions{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), AccessLog: &access, Ready: func(a string) { addrc <- a }})
	}()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-errc:
		t.Fatalf("serve: %v", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if m := regexp.MustCompile(`(?m)^berth_registry_gc_runs_total ([1-9]\d*)$`).FindSubmatch(b); m != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no garbage collection ran:\n%.3000s", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Errorf("serve returned %v after cancel", err)
	}
	// The access log is flushed on shutdown: every /metrics request is there.
	if !strings.Contains(access.String(), `"path":"/metrics"`) {
		t.Errorf("access log lacks the requests:\n%.2000s", access.String())
	}
}

// lockedBuffer is a bytes.Buffer safe for the access log's flusher.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
