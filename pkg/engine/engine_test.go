package engine

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/berth/berth/pkg/errdefs"
)

func TestParsePort(t *testing.T) {
	for _, tc := range []struct {
		in      string
		key     string
		binding PortBinding
		wantErr bool
	}{
		{"80", "80/tcp", PortBinding{}, false},
		{"8080:80", "80/tcp", PortBinding{HostPort: "8080"}, false},
		{"127.0.0.1:8080:80/udp", "80/udp", PortBinding{HostIP: "127.0.0.1", HostPort: "8080"}, false},
		{"127.0.0.1::80", "80/tcp", PortBinding{HostIP: "127.0.0.1"}, false},
		{"[::1]:8080:80", "80/tcp", PortBinding{HostIP: "::1", HostPort: "8080"}, false},
		{"80/icmp", "", PortBinding{}, true},
		{"99999:80", "", PortBinding{}, true},
		{"x:80", "", PortBinding{}, true},
		{"1.2.3:80:80", "", PortBinding{}, true},
		{"a:b:c:d", "", PortBinding{}, true},
	} {
		key, b, err := ParsePort(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("ParsePort(%q) error %v, want error %v", tc.in, err, tc.wantErr)
			continue
		}
		if err == nil && (key != tc.key || b != tc.binding) {
			t.Errorf("ParsePort(%q) = %q %+v, want %q %+v", tc.in, key, b, tc.key, tc.binding)
		}
		if err != nil && !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("ParsePort(%q) error %v is not ErrInvalidArgument", tc.in, err)
		}
	}
}

func TestParseVolumeAndMountFlags(t *testing.T) {
	for _, tc := range []struct {
		in      string
		mount   bool
		want    MountSpec
		wantErr bool
	}{
		{"/data", false, MountSpec{Type: "volume", Target: "/data"}, false},
		{"vol:/data", false, MountSpec{Type: "volume", Source: "vol", Target: "/data"}, false},
		{"/host:/data:ro", false, MountSpec{Type: "bind", Source: "/host", Target: "/data", ReadOnly: true}, false},
		{"/host:/data:bogus", false, MountSpec{}, true},
		{"../rel:/data", false, MountSpec{}, true},
		{"a:b:c:d", false, MountSpec{}, true},
		{"type=bind,source=/h,target=/c,readonly", true, MountSpec{Type: "bind", Source: "/h", Target: "/c", ReadOnly: true}, false},
		{"type=tmpfs,target=/t,tmpfs-size=1m", true, MountSpec{Type: "tmpfs", Target: "/t", Options: []string{"size=1m"}}, false},
		{"type=volume,src=v,dst=/v", true, MountSpec{Type: "volume", Source: "v", Target: "/v"}, false},
		{"type=bind,source=rel,target=/c", true, MountSpec{}, true},
		{"source=/h", true, MountSpec{}, true},
		{"type=bind,colour=red,target=/c", true, MountSpec{}, true},
	} {
		var got MountSpec
		var err error
		if tc.mount {
			got, err = ParseMountFlag(tc.in)
		} else {
			got, err = ParseVolumeFlag(tc.in)
		}
		if (err != nil) != tc.wantErr {
			t.Errorf("%q: error %v, want error %v", tc.in, err, tc.wantErr)
			continue
		}
		if err == nil && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: got %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestParseBytesAndSignal(t *testing.T) {
	for in, want := range map[string]int64{"512": 512, "1k": 1024, "64m": 64 << 20, "1g": 1 << 30, "1.5g": 3 << 29, "10MB": 10 << 20, "2GiB": 2 << 30} {
		if got, err := ParseBytes(in); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "lots", "-1m", "1x"} {
		if _, err := ParseBytes(bad); err == nil {
			t.Errorf("ParseBytes(%q) succeeded", bad)
		}
	}
	for in, want := range map[string]int{"TERM": 15, "SIGKILL": 9, "9": 9, "usr1": 10, "SIGHUP": 1} {
		if got, err := ParseSignal(in); err != nil || int(got) != want {
			t.Errorf("ParseSignal(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "NOPE", "0", "99"} {
		if _, err := ParseSignal(bad); err == nil {
			t.Errorf("ParseSignal(%q) succeeded", bad)
		}
	}
}

func TestMergeConfig(t *testing.T) {
	img := &Image{Config: ImageConfig{Env: []string{"PATH=/img", "A=1"}, Entrypoint: []string{"/entry"}, Cmd: []string{"default"},
		WorkingDir: "/w", User: "nobody", StopSignal: "SIGQUIT", Labels: map[string]string{"l": "img"},
		Healthcheck: &HealthConfig{Test: []string{"CMD", "true"}, Retries: 5}}}
	for _, tc := range []struct {
		name     string
		req      CreateRequest
		wantPath []string
		wantEnv  []string
		retries  int
	}{
		{"image defaults", CreateRequest{}, []string{"/entry", "default"}, []string{"PATH=/img", "A=1"}, 5},
		{"cmd replaces image cmd", CreateRequest{Config: Config{Cmd: []string{"x"}, Env: []string{"A=2", "B=3"}}},
			[]string{"/entry", "x"}, []string{"PATH=/img", "A=2", "B=3"}, 5},
		{"entrypoint drops image cmd", CreateRequest{EntrypointSet: true, Config: Config{Entrypoint: []string{"/bin/sh"}}},
			[]string{"/bin/sh"}, []string{"PATH=/img", "A=1"}, 5},
		{"health override", CreateRequest{Config: Config{Healthcheck: &HealthConfig{Retries: 2}}},
			[]string{"/entry", "default"}, []string{"PATH=/img", "A=1"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mergeConfig(tc.req, img)
			if got := append(append([]string{}, c.Entrypoint...), c.Cmd...); !reflect.DeepEqual(got, tc.wantPath) {
				t.Errorf("command %q, want %q", got, tc.wantPath)
			}
			if !reflect.DeepEqual(c.Env, tc.wantEnv) {
				t.Errorf("env %q, want %q", c.Env, tc.wantEnv)
			}
			if c.WorkingDir != "/w" || c.User != "nobody" || c.StopSignal != "SIGQUIT" || c.Labels["l"] != "img" {
				t.Errorf("image config not honoured: %+v", c)
			}
			if c.Healthcheck == nil || c.Healthcheck.Retries != tc.retries {
				t.Errorf("healthcheck %+v, want retries %d", c.Healthcheck, tc.retries)
			}
		})
	}
	if c := mergeConfig(CreateRequest{Config: Config{Healthcheck: &HealthConfig{Test: []string{"NONE"}}}}, img); c.Healthcheck != nil {
		t.Errorf("--no-healthcheck kept %+v", c.Healthcheck)
	}
}

func TestCheckCapabilities(t *testing.T) {
	if err := checkCapabilities(HostConfig{CapDrop: []string{"chown", "ALL"}, CapAdd: []string{"NET_ADMIN", "cap_sys_time"}}); err != nil {
		t.Fatal(err)
	}
	if err := checkCapabilities(HostConfig{CapAdd: []string{"FLY"}}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("unknown capability: %v", err)
	}
}

func TestShouldRestart(t *testing.T) {
	for _, tc := range []struct {
		policy  RestartPolicy
		stopped bool
		count   int
		code    int
		want    bool
	}{
		{RestartPolicy{Name: "no"}, false, 0, 1, false},
		{RestartPolicy{Name: "always"}, false, 0, 0, true},
		{RestartPolicy{Name: "always"}, true, 0, 0, false},
		{RestartPolicy{Name: "unless-stopped"}, false, 0, 0, true},
		{RestartPolicy{Name: "unless-stopped"}, true, 0, 1, false},
		{RestartPolicy{Name: "on-failure"}, false, 7, 1, true},
		{RestartPolicy{Name: "on-failure"}, false, 0, 0, false},
		{RestartPolicy{Name: "on-failure", MaximumRetryCount: 2}, false, 2, 1, false},
		{RestartPolicy{Name: "on-failure", MaximumRetryCount: 2}, false, 1, 1, true},
	} {
		c := &Container{HostConfig: HostConfig{RestartPolicy: tc.policy}, ManuallyStopped: tc.stopped, RestartCount: tc.count}
		if got := ShouldRestart(c, tc.code); got != tc.want {
			t.Errorf("%+v stopped=%v count=%d code=%d: %v, want %v", tc.policy, tc.stopped, tc.count, tc.code, got, tc.want)
		}
	}
}

func TestStoreNamesAndResolve(t *testing.T) {
	s := &store{root: t.TempDir(), runroot: t.TempDir()}
	a, b := newID(), newID()
	for _, id := range []string{a, b} {
		os.MkdirAll(s.dir(id), 0o700)
		if err := s.save(&Container{ID: id, Name: "n" + id[:4]}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.reserveName("web", a); err != nil {
		t.Fatal(err)
	}
	if err := s.reserveName("web", b); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("second reservation: %v", err)
	}
	for ref, want := range map[string]string{"web": a, "/web": a, a: a, b[:10]: b} {
		if got, err := s.resolve(ref); err != nil || got != want {
			t.Errorf("resolve(%q) = %q, %v; want %q", ref, got, err, want)
		}
	}
	if _, err := s.resolve("nope"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("resolve(nope): %v", err)
	}
	// A name whose container vanished (crash between reserve and save) is free again.
	s.releaseName("web", a)
	if err := s.reserveName("ghost", newID()); err != nil {
		t.Fatal(err)
	}
	if err := s.reserveName("ghost", b); err != nil {
		t.Errorf("stale name not reclaimed: %v", err)
	}
}

func TestLogRotationAndRead(t *testing.T) {
	dir := t.TempDir()
	c := &Container{ID: newID(), LogPath: filepath.Join(dir, "c-json.log"),
		HostConfig: HostConfig{LogConfig: LogConfig{Type: "json-file", Config: map[string]string{"max-size": "1k", "max-file": "3"}}}}
	w, err := OpenLog(c)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		stream := "stdout"
		if i%2 == 1 {
			stream = "stderr"
		}
		if err := w.Write(stream, []byte(strings.Repeat("x", 40)+"\n"), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	for _, name := range []string{"c-json.log", "c-json.log.1", "c-json.log.2"} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil || st.Size() > 1024 {
			t.Errorf("%s: %v, size %v", name, err, st)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "c-json.log.3")); err == nil {
		t.Error("more files than max-file")
	}
	entries := readLogFile(c.LogPath)
	if len(entries) == 0 || entries[0].Stream == "" || entries[0].Time.IsZero() {
		t.Fatalf("entries %+v", entries)
	}
	for _, bad := range []map[string]string{{"max-size": "x"}, {"max-file": "0", "max-size": "1m"}, {"max-file": "2"}, {"colour": "red"}} {
		if _, err := logRotation(LogConfig{Type: "json-file", Config: bad}); err == nil {
			t.Errorf("log opts %v accepted", bad)
		}
	}
}

func TestLineReaderHoldsPartialLines(t *testing.T) {
	var buf bytes.Buffer
	buf.WriteString(`{"log":"a\n","stream":"stdout","time":"2026-01-01T00:00:00Z"}` + "\n" + `{"log":"b`)
	path := filepath.Join(t.TempDir(), "log")
	os.WriteFile(path, buf.Bytes(), 0o600)
	f, _ := os.Open(path)
	defer f.Close()
	lr := &lineReader{rd: bufioReader(f)}
	if got := lr.entries(); len(got) != 1 || got[0].Log != "a\n" {
		t.Fatalf("first read %+v", got)
	}
	af, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	af.WriteString(`\n","stream":"stderr","time":"2026-01-01T00:00:01Z"}` + "\n")
	af.Close()
	if got := lr.entries(); len(got) != 1 || got[0].Log != "b\n" || got[0].Stream != "stderr" {
		t.Fatalf("second read %+v", got)
	}
}

func TestCreateValidation(t *testing.T) {
	e, err := New(Options{Root: t.TempDir(), RunRoot: t.TempDir(), MonitorCommand: []string{"false"}})
	if err != nil {
		t.Fatal(err)
	}
	rootfs := t.TempDir()
	os.MkdirAll(filepath.Join(rootfs, "etc"), 0o755)
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, nil, 0o644)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		req  CreateRequest
		want error
	}{
		{"no command", CreateRequest{Rootfs: rootfs}, errdefs.ErrInvalidArgument},
		{"no image store", CreateRequest{Image: "busybox", Config: Config{Cmd: []string{"true"}}}, errdefs.ErrNotImplemented},
		{"bad name", CreateRequest{Name: "a b", Rootfs: rootfs, Config: Config{Cmd: []string{"true"}}}, errdefs.ErrInvalidArgument},
		{"file onto image directory", CreateRequest{Rootfs: rootfs, Config: Config{Cmd: []string{"true"}},
			HostConfig: HostConfig{NetworkMode: "none", Binds: []string{file + ":/etc"}}}, errdefs.ErrInvalidArgument},
		{"relative mount target", CreateRequest{Rootfs: rootfs, Config: Config{Cmd: []string{"true"}},
			HostConfig: HostConfig{NetworkMode: "none", Tmpfs: map[string]string{"rel": ""}}}, errdefs.ErrInvalidArgument},
		{"bridge without network support", CreateRequest{Rootfs: rootfs, Config: Config{Cmd: []string{"true"}}}, errdefs.ErrNotImplemented},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := e.Create(ctx, tc.req); !errors.Is(err, tc.want) {
				t.Fatalf("Create: %v, want %v", err, tc.want)
			}
		})
	}
	// Nothing is left behind by the failures.
	if ids, _ := e.store.ids(); len(ids) != 0 {
		t.Fatalf("left behind: %v", ids)
	}
	c, err := e.Create(ctx, CreateRequest{Name: "ok", Rootfs: rootfs, Config: Config{Cmd: []string{"true"}}, HostConfig: HostConfig{NetworkMode: "none"}})
	if err != nil {
		t.Fatal(err)
	}
	if c.State.Status != StatusCreated || c.Config.Hostname != c.ID[:12] || c.Path != "true" {
		t.Fatalf("created %+v", c)
	}
	if _, err := e.Create(ctx, CreateRequest{Name: "ok", Rootfs: rootfs, Config: Config{Cmd: []string{"true"}}, HostConfig: HostConfig{NetworkMode: "none"}}); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("duplicate name: %v", err)
	}
	if err := e.Remove(ctx, "ok", RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Load(ctx, "ok"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("after remove: %v", err)
	}
}

func TestFrames(t *testing.T) {
	var buf bytes.Buffer
	for _, f := range []struct {
		kind byte
		p    string
	}{{FrameStdout, "out"}, {FrameStderr, ""}, {FrameExit, "137"}} {
		if err := WriteFrame(&buf, f.kind, []byte(f.p)); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []struct {
		kind byte
		p    string
	}{{FrameStdout, "out"}, {FrameStderr, ""}, {FrameExit, "137"}} {
		kind, p, err := ReadFrame(&buf)
		if err != nil || kind != want.kind || string(p) != want.p {
			t.Fatalf("frame %d %q %v, want %d %q", kind, p, err, want.kind, want.p)
		}
	}
	// A frame claiming more than 1 MiB is refused, not allocated.
	bad := []byte{FrameStdin, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}
	if _, _, err := ReadFrame(bytes.NewReader(bad)); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("huge frame: %v", err)
	}
}
