package backend

import (
	"reflect"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth/berth/pkg/engine"
	"github.com/berth/berth/pkg/image"
)

func TestCommitConfig(t *testing.T) {
	c := engine.Config{Env: []string{"PATH=/bin", "A=1"}, Cmd: []string{"sh"}, Entrypoint: []string{"/init"}, WorkingDir: "/w",
		Labels: map[string]string{"l": "1"}, ExposedPorts: map[string]struct{}{"80/tcp": {}}}
	for _, tc := range []struct {
		name    string
		changes []string
		check   func(t *testing.T, got v1.Config)
	}{
		{"no changes", nil, func(t *testing.T, got v1.Config) {
			if !reflect.DeepEqual(got.Env, c.Env) || !reflect.DeepEqual(got.Cmd, c.Cmd) || got.WorkingDir != "/w" || got.Labels["l"] != "1" {
				t.Fatalf("%+v", got)
			}
		}},
		{"env replaces and adds", []string{"ENV A=2 B=3"}, func(t *testing.T, got v1.Config) {
			if !reflect.DeepEqual(got.Env, []string{"PATH=/bin", "A=2", "B=3"}) {
				t.Fatalf("env %q", got.Env)
			}
		}},
		{"cmd", []string{`CMD ["echo","hi"]`}, func(t *testing.T, got v1.Config) {
			if !reflect.DeepEqual(got.Cmd, []string{"echo", "hi"}) || !reflect.DeepEqual(got.Entrypoint, []string{"/init"}) {
				t.Fatalf("cmd %q entrypoint %q", got.Cmd, got.Entrypoint)
			}
		}},
		{"entrypoint resets cmd", []string{`ENTRYPOINT ["/x"]`}, func(t *testing.T, got v1.Config) {
			if got.Cmd != nil || !reflect.DeepEqual(got.Entrypoint, []string{"/x"}) {
				t.Fatalf("cmd %q entrypoint %q", got.Cmd, got.Entrypoint)
			}
		}},
		{"labels, ports, volumes, user, workdir", []string{"LABEL m=2", "EXPOSE 443", "VOLUME /data", "USER nobody", "WORKDIR /srv"}, func(t *testing.T, got v1.Config) {
			_, p80 := got.ExposedPorts["80/tcp"]
			_, p443 := got.ExposedPorts["443/tcp"]
			_, vol := got.Volumes["/data"]
			if got.Labels["l"] != "1" || got.Labels["m"] != "2" || !p80 || !p443 || !vol || got.User != "nobody" || got.WorkingDir != "/srv" {
				t.Fatalf("%+v", got)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch, err := image.ParseChanges(tc.changes)
			if err != nil {
				t.Fatal(err)
			}
			got := commitConfig(c, ch)
			tc.check(t, got)
			if c.Env[1] != "A=1" || len(c.Labels) != 1 {
				t.Fatal("the container's config was modified")
			}
		})
	}
}
