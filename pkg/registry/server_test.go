package registry_test

import (
	"errors"
	"os"
	"path/filepath"
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
