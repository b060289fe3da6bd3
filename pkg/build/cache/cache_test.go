package cache

import (
	"testing"

	"github.com/opencontainers/go-digest"
)

func TestCache(t *testing.T) {
	c, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	k := digest.FromString("step")
	var v struct{ A int }
	if c.Get(k, &v) {
		t.Fatal("hit in an empty cache")
	}
	if err := c.Put(k, struct{ A int }{7}); err != nil {
		t.Fatal(err)
	}
	if !c.Get(k, &v) || v.A != 7 {
		t.Fatalf("Get after Put: %+v", v)
	}
	if c.Len() != 1 {
		t.Errorf("Len %d", c.Len())
	}
	if err := c.Put("sha256:../../etc", v); err == nil {
		t.Errorf("bad key accepted")
	}
	if n, err := c.Prune(); err != nil || n != 1 {
		t.Errorf("Prune = %d, %v", n, err)
	}
	if c.Get(k, &v) || c.Len() != 0 {
		t.Errorf("entry survived Prune")
	}
}
